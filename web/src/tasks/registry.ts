/**
 * Question type → task view. A new view (image regions, video timelines, audio transcripts) is
 * one new component and one `register` line; the shell, the review page and the tests read
 * this table. Each view takes `TaskProps` (question, record, value, suggestion?, onchange) and
 * handles its own keys (number keys and the like) while focus is inside it.
 */

import type { Component } from "svelte";
import ChoiceTask from "./ChoiceTask.svelte";
import ConversationTask from "./ConversationTask.svelte";
import MultiChoiceTask from "./MultiChoiceTask.svelte";
import RankingTask from "./RankingTask.svelte";
import RatingTask from "./RatingTask.svelte";
import RegionTask from "./RegionTask.svelte";
import SpanTask from "./SpanTask.svelte";
import StepVerdictTask from "./StepVerdictTask.svelte";
import RecordingTask from "./RecordingTask.svelte";
import StepPreferenceTask from "./StepPreferenceTask.svelte";
import TrajectoryTask from "./TrajectoryTask.svelte";
import TextTask from "./TextTask.svelte";
import TimelineSegmentTask from "./TimelineSegmentTask.svelte";
import TrackTask from "./TrackTask.svelte";
import TranscriptTask from "./TranscriptTask.svelte";
import type { OtherQuestion, TaskProps } from "./types";
import Unsupported from "./Unsupported.svelte";

// Views are typed by their own question and value; the registry erases that to the common props.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyView = Component<TaskProps<any, any>>;

const views = new Map<string, AnyView>();

export function register(type: string, view: AnyView): void {
  views.set(type, view);
}

register("text", TextTask);
register("rating", RatingTask);
register("ranking", RankingTask);
register("choice", ChoiceTask);
register("multi_choice", MultiChoiceTask);
register("span", SpanTask);
register("step_verdict", StepVerdictTask);
// Authoring from scratch: an agent trajectory or plan, the preferred output at agent steps, recorded audio.
register("trajectory", TrajectoryTask);
register("step_preference", StepPreferenceTask);
register("recording", RecordingTask);
// The `conversation` question: the answer is the whole edited conversation (SFT from chats).
register("conversation", ConversationTask);
// Media: image regions, video / audio segments, object tracks, transcripts with speakers.
register("region", RegionTask);
register("timeline_segment", TimelineSegmentTask);
register("track", TrackTask);
register("transcript", TranscriptTask);

export function viewFor(question: Pick<OtherQuestion, "type">): AnyView {
  return views.get(question.type) ?? (Unsupported as AnyView);
}

export function hasView(type: string): boolean {
  return views.has(type);
}

export const registeredTypes = (): string[] => [...views.keys()];
