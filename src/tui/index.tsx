// renderTop: the one entry point the `top` command calls. It renders the app on the alternate
// screen (the shell's screen comes back on exit) and resolves when the operator quits.
import { render } from "ink";
import { App } from "./app.tsx";
import type { DashboardSource } from "./model.ts";

export interface TopOptions {
  source: DashboardSource;
  refreshMs: number;
  readOnly: boolean;
  colour: boolean;
  eventsUrl: string | null;
  token: string | null;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

export async function renderTop(options: TopOptions): Promise<void> {
  const instance = render(
    <App source={options.source} refreshMs={options.refreshMs} readOnly={options.readOnly} colour={options.colour} eventsUrl={options.eventsUrl} token={options.token} />,
    {
      stdout: options.stdout ?? process.stdout,
      stdin: options.stdin ?? process.stdin,
      exitOnCtrlC: false,
      // top only runs on a terminal (the command checks): render live even when CI is set in the
      // environment, where Ink would otherwise write only the final frame.
      interactive: true,
      patchConsole: true,
      alternateScreen: true,
      maxFps: 20,
    },
  );
  try {
    await instance.waitUntilExit();
  } finally {
    instance.cleanup();
  }
}
