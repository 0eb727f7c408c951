// Paths as clients in the field type them: a stray space after a slash (`/ requests/…`,
// `/smartcards/ D700…`) or a trailing dot after the last segment (`…/profiletemplates.`).
export function normalizePath(url: string): string {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? "" : url.slice(q);
  const segments = path.split("/").map((s) => s.replace(/^(?:%20|\s|\+)+|(?:%20|\s)+$/g, ""));
  let last = segments.length - 1;
  while (last > 0 && segments[last] === "") last--;
  segments[last] = segments[last]!.replace(/\.+$/, "");
  return segments.join("/") + query;
}
