// Relative times against the database clock: the app learns the offset between the database's
// NOW() and this machine from each overview and applies it to Dates from other views.
export function secondsSince(date: Date | null | undefined, dbNowMs: number): number | null {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return null;
  return (dbNowMs - date.getTime()) / 1000;
}
