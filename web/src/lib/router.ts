/**
 * A tiny history-API router: a table of path patterns (`/projects/:project`), matching, and
 * navigation. Same-origin `<a href="/...">` clicks are turned into `navigate` calls by
 * `interceptLinks`, so pages use plain links.
 */

export type Params = Record<string, string>;
export type Match = { name: string; params: Params };

export const ROUTES: [pattern: string, name: string][] = [
  ["/login", "login"],
  ["/", "projects"],
  ["/admin/users", "users"],
  ["/projects/:project", "project"],
  ["/projects/:project/queue", "queue"],
  ["/projects/:project/exports", "exports"],
  ["/projects/:project/generate", "generate"],
  ["/projects/:project/members", "members"],
  ["/projects/:project/arena", "arena"],
  ["/projects/:project/arena/leaderboard", "arena-leaderboard"],
  ["/projects/:project/evals", "evals"],
  ["/projects/:project/evals/report", "eval-report"],
  ["/projects/:project/training", "training"],
  ["/projects/:project/datasets/:dataset", "records"],
  ["/projects/:project/datasets/:dataset/records/:record", "record"],
  ["/projects/:project/datasets/:dataset/settings", "settings"],
  ["/projects/:project/datasets/:dataset/import", "import"],
  ["/projects/:project/datasets/:dataset/annotate", "annotate"],
  ["/projects/:project/datasets/:dataset/review", "review"],
  ["/projects/:project/datasets/:dataset/agreement", "agreement"],
];

/** Match one pattern against a path; `null` when it does not fit. Segments are URI-decoded. */
export function matchPattern(pattern: string, path: string): Params | null {
  const clean = (s: string) => s.replace(/\/+$/, "") || "/";
  const want = clean(pattern).split("/");
  const got = clean(path).split("/");
  if (want.length !== got.length) return null;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (!got[i]) return null;
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null; // a malformed escape
      }
    } else if (want[i] !== got[i]) return null;
  }
  return params;
}

export function match(path: string, routes = ROUTES): Match | null {
  for (const [pattern, name] of routes) {
    const params = matchPattern(pattern, path);
    if (params) return { name, params };
  }
  return null;
}

/** Build a path from segments, escaping each: `path("projects", p)` -> `/projects/a%20b`. */
export function path(...segments: string[]): string {
  return "/" + segments.map(encodeURIComponent).join("/");
}

type Listener = () => void;
const listeners = new Set<Listener>();

export function subscribe(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(): void {
  for (const fn of listeners) fn();
}

if (typeof window !== "undefined") window.addEventListener("popstate", notify);

/** Go to an app path (with its query), adding a history entry unless `replace`. */
export function navigate(to: string, replace = false): void {
  const current = location.pathname + location.search + location.hash;
  if (to === current) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  if (!replace) window.scrollTo?.(0, 0);
  notify();
}

/** Set the query string of the current page (filters); `replace` keeps one history entry. */
export function setQuery(params: URLSearchParams, replace = true): void {
  const s = params.toString();
  navigate(location.pathname + (s ? `?${s}` : ""), replace);
}

/** Is this click one the router should take over (left click, no modifier, same-origin app link)? */
export function routable(e: MouseEvent, a: HTMLAnchorElement): boolean {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return false;
  if (a.target && a.target !== "_self") return false;
  if (a.hasAttribute("download") || a.getAttribute("rel")?.includes("external")) return false;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("//")) return false;
  if (href.startsWith("/api/")) return false; // downloads and the API docs are real requests
  return true;
}

/** Route same-origin link clicks inside `root` through `navigate`; returns the remover. */
export function interceptLinks(root: HTMLElement | Document): () => void {
  const onClick = (e: Event) => {
    const me = e as MouseEvent;
    const a = (me.target as Element | null)?.closest?.("a");
    if (a && routable(me, a as HTMLAnchorElement)) {
      me.preventDefault();
      navigate(a.getAttribute("href")!);
    }
  };
  root.addEventListener("click", onClick);
  return () => root.removeEventListener("click", onClick);
}
