// Small helpers over citty command definitions (which may be lazy: values, promises or thunks).
import type { ArgsDef, CommandDef, Resolvable } from "citty";

// `any`: CommandDef is invariant in its args type and commands differ in their args; the tree
// only needs the shape they share.
export type AnyCommand = CommandDef<any>;

export async function resolveValue<T>(value: Resolvable<T> | undefined): Promise<T | undefined> {
  if (value === undefined) return undefined;
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

export async function resolveCommand(parent: AnyCommand, name: string): Promise<AnyCommand | undefined> {
  const subs = await resolveValue(parent.subCommands);
  if (!subs || !Object.hasOwn(subs, name)) return undefined;
  return resolveValue(subs[name] as Resolvable<AnyCommand>);
}

export async function commandArgs(command: AnyCommand): Promise<ArgsDef> {
  return (await resolveValue(command.args as Resolvable<ArgsDef> | undefined)) ?? {};
}
