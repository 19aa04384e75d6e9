import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, errorText, onUnauthorized, qs, setCsrf } from "./api";

function reply(status: number, body: unknown, json = true): Response {
  return new Response(json ? JSON.stringify(body) : String(body), {
    status,
    headers: { "content-type": json ? "application/json" : "text/plain" },
  });
}

/** The ApiError a call fails with (the test fails if it succeeds). */
const failure = (p: Promise<unknown>): Promise<ApiError> =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e) => e as ApiError,
  );

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrf(null);
  onUnauthorized(null);
});

describe("api", () => {
  it("sends JSON with the CSRF token on unsafe requests only", async () => {
    const fetch = vi.fn().mockImplementation(async () => reply(200, { ok: 1 }));
    vi.stubGlobal("fetch", fetch);
    setCsrf("tok");
    await api.get("/a");
    await api.post("/b", { x: 1 });
    const [getUrl, getInit] = fetch.mock.calls[0];
    const [postUrl, postInit] = fetch.mock.calls[1];
    expect(getUrl).toBe("/api/v1/a");
    expect(getInit.headers["X-CSRF-Token"]).toBeUndefined();
    expect(postUrl).toBe("/api/v1/b");
    expect(postInit.headers["X-CSRF-Token"]).toBe("tok");
    expect(postInit.body).toBe('{"x":1}');
  });

  it("raises our error shape with its code, message and details", async () => {
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(
      reply(404, { error: { code: "not_found", message: "no dataset 'x'", details: [{ loc: ["x"] }] } }),
    ));
    const e = await failure(api.get("/x"));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(404);
    expect(e.code).toBe("not_found");
    expect(e.message).toBe("no dataset 'x'");
    expect(e.details).toHaveLength(1);
  });

  it("turns FastAPI's 422 into a readable message naming the fields", async () => {
    const detail = [{ loc: ["body", "name"], msg: "String should match pattern", type: "string_pattern_mismatch" }];
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(reply(422, { detail })));
    const e = await failure(api.post("/x", {}));
    expect(e.status).toBe(422);
    expect(e.message).toBe("name: String should match pattern");
    expect(e.details).toEqual(detail);
  });

  it("handles text bodies, 204 and network failures", async () => {
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(reply(500, "Internal Server Error", false)));
    expect(errorText(await failure(api.get("/x")))).toBe("Internal Server Error");
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(new Response(null, { status: 204 })));
    expect(await api.del("/x")).toBeUndefined();
    vi.stubGlobal("fetch", vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    const e = await failure(api.get("/x"));
    expect(e.code).toBe("network");
  });

  it("reports a 401 to the shell, except from the login itself", async () => {
    const seen: string[] = [];
    onUnauthorized((p) => seen.push(p));
    vi.stubGlobal("fetch", vi.fn().mockImplementation(async () => reply(401, { error: { code: "unauthorized", message: "log in" } })));
    await api.get("/projects").catch(() => null);
    await api.post("/auth/login", {}).catch(() => null);
    expect(seen).toEqual(["/projects"]);
  });

  it("uploads a form without a JSON content type", async () => {
    const fetch = vi.fn().mockResolvedValue(reply(200, { added: 1 }));
    vi.stubGlobal("fetch", fetch);
    const form = new FormData();
    form.append("file", new Blob(["{}"]), "a.jsonl");
    await api.upload("/up", form);
    const init = fetch.mock.calls[0][1];
    expect(init.body).toBe(form);
    expect(init.headers["Content-Type"]).toBeUndefined();
  });
});

describe("qs", () => {
  it("leaves out empty values and repeats keys", () => {
    expect(qs([["a", "1"], ["b", ""], ["c", null], ["d", 0], ["a", "2"]])).toBe("?a=1&d=0&a=2");
    expect(qs([])).toBe("");
  });
});
