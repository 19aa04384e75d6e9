import { afterEach, describe, expect, it } from "vitest";
import { interceptLinks, match, matchPattern, navigate, path, routable, subscribe } from "./router";

describe("match", () => {
  it("finds each route with its decoded parameters", () => {
    expect(match("/")).toEqual({ name: "projects", params: {} });
    expect(match("/login")).toEqual({ name: "login", params: {} });
    expect(match("/projects/p1")).toEqual({ name: "project", params: { project: "p1" } });
    expect(match("/projects/p1/datasets/d%20x")).toEqual({ name: "records", params: { project: "p1", dataset: "d x" } });
    expect(match("/projects/p/datasets/d/records/abc")).toEqual({
      name: "record",
      params: { project: "p", dataset: "d", record: "abc" },
    });
    expect(match("/projects/p/datasets/d/annotate")?.name).toBe("annotate");
    expect(match("/projects/p/queue")?.name).toBe("queue");
    expect(match("/projects/p/exports")?.name).toBe("exports");
    expect(match("/admin/users")?.name).toBe("users");
  });

  it("ignores a trailing slash and refuses unknown or malformed paths", () => {
    expect(match("/projects/p/")?.name).toBe("project");
    expect(match("/projects")).toBeNull();
    expect(match("/projects/p/nothing/here")).toBeNull();
    expect(matchPattern("/projects/:project", "/projects/%E0%A4%A")).toBeNull();
    expect(matchPattern("/a/:b", "/a/")).toBeNull();
  });

  it("builds escaped paths that match back", () => {
    const p = path("projects", "a/b c", "datasets", "d?");
    expect(p).toBe("/projects/a%2Fb%20c/datasets/d%3F");
    expect(match(p)?.params).toEqual({ project: "a/b c", dataset: "d?" });
  });
});

describe("navigation", () => {
  afterEach(() => history.replaceState(null, "", "/"));

  it("pushes history and tells subscribers", () => {
    let calls = 0;
    const stop = subscribe(() => calls++);
    navigate("/projects/x");
    expect(location.pathname).toBe("/projects/x");
    expect(calls).toBe(1);
    navigate("/projects/x"); // same place: nothing
    expect(calls).toBe(1);
    stop();
  });

  it("takes over plain same-origin link clicks only", () => {
    const root = document.createElement("div");
    root.innerHTML = `<a id="app" href="/projects/y">y</a><a id="ext" href="https://example.org" target="_blank">e</a>
      <a id="api" href="/api/v1/docs">api</a><a id="dl" href="/x" download>dl</a>`;
    document.body.append(root);
    const stop = interceptLinks(root);
    const click = (id: string, init: MouseEventInit = {}) => {
      const e = new MouseEvent("click", { bubbles: true, cancelable: true, button: 0, ...init });
      root.querySelector(`#${id}`)!.dispatchEvent(e);
      return e.defaultPrevented;
    };
    expect(click("app")).toBe(true);
    expect(location.pathname).toBe("/projects/y");
    expect(click("app", { ctrlKey: true })).toBe(false);
    expect(click("ext")).toBe(false);
    expect(click("api")).toBe(false);
    expect(click("dl")).toBe(false);
    stop();
    root.remove();
  });

  it("routable refuses middle clicks and protocol-relative links", () => {
    const a = document.createElement("a");
    a.setAttribute("href", "//evil.org/x");
    expect(routable(new MouseEvent("click", { button: 0 }), a)).toBe(false);
    a.setAttribute("href", "/ok");
    expect(routable(new MouseEvent("click", { button: 1 }), a)).toBe(false);
    expect(routable(new MouseEvent("click", { button: 0 }), a)).toBe(true);
  });
});
