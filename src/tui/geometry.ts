// Rows per page and row counts of the current screen, shared by the views and the key handler so
// the cursor and what is drawn always agree.
import { listPageSize } from "./components/paged-table.tsx";
import type { ScreenData } from "./load.ts";
import type { Screen } from "./navigation.ts";
import { detailLines, detailPageSize } from "./views/detail.tsx";
import { overviewLayout } from "./views/overview.tsx";
import { tasksPageSize } from "./views/tasks.tsx";

export interface Geometry {
  pageSize: number;
  count: number;
}

export function geometry(screen: Screen, data: ScreenData | undefined, width: number, height: number): Geometry {
  if (screen.kind === "tasks") {
    const page = data?.kind === "tasks" ? data.page : undefined;
    return { pageSize: tasksPageSize(height), count: page ? Math.max(page.total.value, page.offset + page.rows.length) : 0 };
  }
  if (screen.kind === "detail") {
    const detail = data?.kind === "detail" ? data.detail : null;
    const size = detailPageSize(height);
    return { pageSize: size, count: detail ? Math.max(1, detailLines(detail, width).length - size + 1) : 0 };
  }
  if (screen.kind === "events" || !data) return { pageSize: 1, count: 0 };
  if (data.kind === "overview") {
    const o = data.overview;
    const size = screen.kind === "tab" && screen.tab === "overview" ? overviewLayout(o, width, height).queueRows : listPageSize(height);
    return { pageSize: size, count: o.queues.length };
  }
  if ("rows" in data) return { pageSize: listPageSize(height), count: data.rows.length };
  return { pageSize: 1, count: 0 };
}
