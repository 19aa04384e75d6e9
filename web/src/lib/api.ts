/**
 * The one way the app talks to the server: JSON over fetch with the session cookie, and the
 * CSRF token (from login or /auth/me) echoed on every unsafe request.
 */

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

let csrf: string | null = null;
let unauthorized: ((path: string) => void) | null = null;

export function setCsrf(token: string | null): void {
  csrf = token;
}

/** Called on a 401 from any request but the login itself (the shell sends the user to /login). */
export function onUnauthorized(handler: ((path: string) => void) | null): void {
  unauthorized = handler;
}

type Detail = { loc?: unknown[]; msg?: string; type?: string };

/** A readable message from FastAPI's 422 shape: `body.name: field required; ...`. */
function validationMessage(detail: Detail[]): string {
  return detail
    .map((d) => {
      const loc = (d.loc ?? []).filter((p) => p !== "body").join(".");
      return loc ? `${loc}: ${d.msg ?? "invalid"}` : (d.msg ?? "invalid");
    })
    .join("; ");
}

/** Turn a non-2xx response body into an ApiError (our `{error}` shape, FastAPI's `{detail}`, or text). */
export function toApiError(status: number, statusText: string, data: unknown): ApiError {
  const body = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
  const err = body.error as { code?: string; message?: unknown; details?: unknown[] } | undefined;
  if (err && typeof err === "object") {
    const msg = typeof err.message === "string" ? err.message : JSON.stringify(err.message);
    return new ApiError(status, err.code ?? String(status), msg, err.details ?? []);
  }
  if (Array.isArray(body.detail)) {
    return new ApiError(status, "invalid_request", validationMessage(body.detail as Detail[]), body.detail);
  }
  if (typeof body.detail === "string") return new ApiError(status, String(status), body.detail);
  const text = typeof data === "string" && data.trim() && data.length < 300 ? data.trim() : statusText;
  return new ApiError(status, String(status), text || `HTTP ${status}`);
}

async function send<T>(method: string, path: string, body: BodyInit | undefined, json: boolean): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (json && body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let r: Response;
  try {
    r = await fetch(API + path, { method, headers, credentials: "same-origin", body });
  } catch {
    throw new ApiError(0, "network", "the server did not answer; check your connection");
  }
  if (r.status === 204) return undefined as T;
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401 && path !== "/auth/login" && unauthorized) unauthorized(path);
    throw toApiError(r.status, r.statusText, data);
  }
  return data as T;
}

function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return send<T>(method, path, body === undefined ? undefined : JSON.stringify(body), true);
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, body ?? {}),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body ?? {}),
  del: <T>(path: string) => request<T>("DELETE", path),
  /** A multipart form (file uploads); the browser sets the boundary. */
  upload: <T>(path: string, form: FormData) => send<T>("POST", path, form, false),
};

/** A path segment, escaped (project and dataset names are user input). */
export const seg = (s: string) => encodeURIComponent(s);

/** A query string from pairs; empty values are left out. `qs([["a", "1"]])` -> `?a=1`. */
export function qs(pairs: [string, string | number | null | undefined][]): string {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== "") p.append(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** The message to show for any thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
