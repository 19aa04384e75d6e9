/** Who is logged in, and the projects they can see: shared by the shell and the pages. */
import { api, setCsrf } from "./api";
import type { Me, Project } from "./types";

export const session = $state<{ me: Me | null; checked: boolean; projects: Project[] }>({
  me: null,
  checked: false,
  projects: [],
});

export function signedIn(me: Me): void {
  session.me = me;
  session.checked = true;
  setCsrf(me.csrf_token ?? null);
}

export function signedOut(): void {
  session.me = null;
  session.projects = [];
  setCsrf(null);
}

export async function loadProjects(): Promise<void> {
  session.projects = await api.get<Project[]>("/projects");
}

/** The caller's role in a project, from the loaded list (admins see every project as owner). */
export function roleIn(project: string): string | null {
  return session.projects.find((p) => p.name === project)?.role ?? null;
}

const RANK: Record<string, number> = { annotator: 1, reviewer: 2, engineer: 3, owner: 4 };

/** Is `role` at least `min` (annotator < reviewer < engineer < owner)? */
export function atLeast(role: string | null, min: "annotator" | "reviewer" | "engineer" | "owner"): boolean {
  return role !== null && (RANK[role] ?? 0) >= RANK[min];
}
