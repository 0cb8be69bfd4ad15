// SQL migration files are imported as text so they ship inside the compiled binary.
declare module "*.sql" {
  const text: string;
  export default text;
}
