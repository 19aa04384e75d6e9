import { render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "./App.svelte";
import { setCsrf } from "./lib/api";

type Routes = Record<string, [number, unknown]>;

function server(routes: Routes) {
  const calls: string[] = [];
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const path = url.replace("/api/v1", "");
    calls.push(`${init?.method ?? "GET"} ${path}`);
    const [status, body] = routes[path] ?? [404, { error: { code: "not_found", message: `no ${path}` } }];
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrf(null);
  history.replaceState(null, "", "/");
  document.body.innerHTML = "";
});

describe("the shell", () => {
  it("sends a visitor who is not logged in to /login, remembering the page", async () => {
    history.replaceState(null, "", "/projects/p1");
    server({ "/auth/me": [401, { error: { code: "unauthorized", message: "log in" } }] });
    render(App);
    await waitFor(() => expect(location.pathname).toBe("/login"));
    expect(location.search).toBe("?next=%2Fprojects%2Fp1");
    expect(await screen.findByRole("button", { name: "Log in" })).toBeTruthy();
  });

  it("shows the projects of a logged-in user, with the top bar", async () => {
    const calls = server({
      "/auth/me": [200, { name: "ana", is_admin: false, kind: "user", csrf_token: "t" }],
      "/projects": [200, [{ name: "p1", description: "first", created_at: null, role: "annotator" }]],
    });
    render(App);
    expect(await screen.findByRole("heading", { name: "Projects" })).toBeTruthy();
    expect(await screen.findByText("first")).toBeTruthy();
    expect(screen.getByLabelText("User menu").textContent).toContain("ana");
    expect(screen.queryByRole("button", { name: "New project" })).toBeNull(); // not an administrator
    expect(calls[0]).toBe("GET /auth/me");
  });

  it("answers an unknown path with a not-found page", async () => {
    history.replaceState(null, "", "/no/such/page");
    server({ "/auth/me": [200, { name: "ana", is_admin: true, kind: "user", csrf_token: "t" }], "/projects": [200, []] });
    render(App);
    expect(await screen.findByRole("heading", { name: "Not found" })).toBeTruthy();
  });
});
