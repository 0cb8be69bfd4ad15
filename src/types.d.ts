// SQL migration files are imported as text so they ship inside the compiled binary.
declare module "*.sql" {
  const text: string;
  export default text;
}

// The python-pool zygote (src/executor/python-pool/zygote.py) ships inside the binary the same way.
declare module "*.py" {
  const text: string;
  export default text;
}
