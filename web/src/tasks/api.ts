/** The annotation endpoints (queue, tasks, review, agreement), typed; through `lib/api`. */

import { ApiError, api, seg } from "../lib/api";
import type { Answers } from "./history";
import type { OtherQuestion, Suggestion, TaskRecord } from "./types";

export interface Assignment {
  id: string;
  record_id: string;
  dataset: string;
  user: string;
  status: "leased" | "rejected" | "amending" | string;
  lease_expires_at?: string | null;
  reject_reason?: string | null;
}

export interface Task {
  assignment: Assignment;
  record: TaskRecord;
  questions: OtherQuestion[];
  guidelines: string | null;
  suggestions: Suggestion[];
  draft: { answers: Answers } | null;
}

export interface QueueRow {
  dataset: string;
  available: number;
  in_progress: number;
  done_by_me: number;
  to_review: number;
}

export interface HistoryRow {
  assignment_id: string;
  record_id: string;
  answers: Answers;
  status: string;
  submitted_at: string;
  review: { decision: string; reason?: string | null; reviewer?: string | null } | null;
}

export interface ResponseRow {
  id: string;
  assignment_id?: string | null;
  user: string;
  answers: Answers;
  status: string;
  /** pending, accepted, rejected, corrected, or null (no review asked). */
  review_status?: string | null;
}

export interface ReviewItem {
  record: TaskRecord;
  questions: OtherQuestion[];
  guidelines: string | null;
  responses: ResponseRow[];
  consensus: Answers;
}

export interface PairAgreement {
  a: string;
  b: string;
  metric: string;
  value: number | null;
  n: number;
}

export interface QuestionAgreement {
  question: string;
  type: string;
  metric: string;
  value: number | null;
  n_items: number;
  n_annotators: number;
  pairs: PairAgreement[];
}

export interface Progress {
  records: number;
  target: number;
  submitted: number;
  in_progress: number;
  skipped: number;
  complete: number;
  annotators: {
    user: string;
    submitted: number;
    skipped: number;
    rejected: number;
    median_seconds: number | null;
    agreement_with_consensus: number | null;
  }[];
}

const P = (project: string) => `/projects/${seg(project)}`;
const D = (project: string, dataset: string) => `${P(project)}/datasets/${seg(dataset)}`;
const A = (project: string, id: string) => `${P(project)}/assignments/${seg(id)}`;

export const annotation = {
  queue: (project: string) => api.get<QueueRow[]>(`${P(project)}/queue`),
  /** The next task, or null when there is no work for me. */
  next: async (project: string, dataset: string) => (await api.post<Task | undefined>(`${D(project, dataset)}/queue/next`)) ?? null,
  task: (project: string, id: string) => api.get<Task>(A(project, id)),
  draft: (project: string, id: string, answers: Answers) => api.put<void>(`${A(project, id)}/draft`, { answers }),
  submit: (project: string, id: string, answers: Answers) => api.post<ResponseRow>(`${A(project, id)}/submit`, { answers }),
  skip: (project: string, id: string, reason: string) => api.post<void>(`${A(project, id)}/skip`, { reason }),
  amend: (project: string, id: string, answers: Answers) => api.post<ResponseRow>(`${A(project, id)}/amend`, { answers }),
  history: (project: string, dataset: string, limit = 20) => api.get<HistoryRow[]>(`${D(project, dataset)}/queue/history?limit=${limit}`),
  reviewNext: async (project: string, dataset: string) => (await api.post<ReviewItem | undefined>(`${D(project, dataset)}/review/next`)) ?? null,
  review: (project: string, responseId: string, body: { decision: "accept" | "reject" | "correct"; reason?: string; answers?: Answers }) =>
    api.post<unknown>(`${P(project)}/responses/${seg(responseId)}/review`, body),
  agreement: (project: string, dataset: string) => api.get<{ questions: QuestionAgreement[] }>(`${D(project, dataset)}/agreement`),
  progress: (project: string, dataset: string) => api.get<Progress>(`${D(project, dataset)}/progress`),
};

/** Field errors of a 422 as `{question name: message}` (FastAPI's `detail` or our `error.details`). */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(err instanceof ApiError)) return out;
  let details = err.details as { loc?: unknown[]; msg?: string }[];
  if (!details.length && err.message.startsWith("[")) {
    // FastAPI's 422 keeps `detail` as a list, which lib/api passes on as the message text.
    try {
      details = JSON.parse(err.message);
    } catch {
      details = [];
    }
  }
  for (const d of details) {
    const loc = (d.loc ?? []).map(String);
    const i = loc.indexOf("answers");
    const key = i >= 0 && loc[i + 1] !== undefined ? loc[i + 1] : (loc[loc.length - 1] ?? "_");
    out[key] = out[key] ? `${out[key]}; ${d.msg ?? "invalid"}` : (d.msg ?? "invalid");
  }
  return out;
}

/** A message for an error, for the annotator. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 409) return "Your hold on this record ran out and someone else may have it now. Load the next task.";
    return err.message || `Error ${err.status}`;
  }
  return err instanceof Error ? err.message : String(err);
}
