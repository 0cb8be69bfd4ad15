// The version is read from package.json at bundle time, so the compiled binary carries it and
// `reproq --version` never touches the disk, the network or the database.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

/**
 * "release" builds refuse unsafe development conveniences (e.g. payload_mode inline);
 * scripts/build.ts sets it with `--define REPROQ_BUILD_CHANNEL='"release"'`.
 */
declare const REPROQ_BUILD_CHANNEL: string | undefined;
export const BUILD_CHANNEL: "release" | "dev" =
  typeof REPROQ_BUILD_CHANNEL !== "undefined" && REPROQ_BUILD_CHANNEL === "release" ? "release" : "dev";
