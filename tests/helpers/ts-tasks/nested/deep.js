// A JavaScript task module two levels down: task path nested.deep.hello
export function hello(args) {
  return `hello ${args[0] ?? "world"}`;
}
