// What the generated TypeScript types say, checked by `tsc --strict --noEmit` (never run).
//
// Every property of an answer is always there (none optional), a change is one of two shapes
// told apart by `op`, a request field with a server-side default may be left out, and every
// error answer is an `Error` (no text/html string among them).
// tests/system/test_generated_clients.py type-checks this file beside the session of
// docs/generated-clients.md.
import createClient from "openapi-fetch";
import type { components, paths } from "./taskapp";

type Schemas = components["schemas"];
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
function holds<T extends true>(): void {}

holds<Equal<OptionalKeys<Schemas["Task"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Reminder"]>, "at" | "before_due">>();
holds<Equal<OptionalKeys<Schemas["ChangePage"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Summary"]>, never>>();
holds<Equal<OptionalKeys<Schemas["TaskCounts"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Completion"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Webhook"]>, never>>();
holds<Equal<OptionalKeys<Schemas["NewWebhook"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Attempt"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Status"]>, never>>();
holds<Equal<OptionalKeys<Schemas["Error"]>, "errors" | "operation">>();
holds<Equal<Schemas["Task"]["due_at"], string | null>>();
holds<Equal<Schemas["Change"], Schemas["UpsertChange"] | Schemas["DeleteChange"]>>();
holds<Equal<Schemas["UpsertChange"]["op"], "upsert">>();
holds<Equal<Schemas["DeleteChange"]["op"], "delete">>();
holds<Equal<Schemas["CreateTaskOperation"]["op"], "create_task">>();
holds<Equal<Schemas["CreateTaskOperation"]["task"], Schemas["TaskWrite"]>>();
holds<Equal<Schemas["CreateTaskResult"]["task"], Schemas["Task"]>>();
holds<Equal<OptionalKeys<Schemas["CreateTaskResult"]>, never>>();

// A request body needs what the server requires, nothing more.
holds<Equal<Exclude<keyof Schemas["TaskWrite"], OptionalKeys<Schemas["TaskWrite"]>>, "title">>();
holds<Equal<OptionalKeys<Schemas["TaskPatch"]>, keyof Schemas["TaskPatch"]>>();
holds<Equal<Exclude<keyof Schemas["WebhookCreate"], OptionalKeys<Schemas["WebhookCreate"]>>, "url" | "events">>();

function change(each: Schemas["Change"]): string {
  switch (each.op) {
    case "upsert":
      // @ts-expect-error: an upsert carries the task, not its id alone
      void each.task_id;
      return each.task.title;
    case "delete":
      // @ts-expect-error: a deletion carries no task
      void each.task;
      return each.task_id;
  }
}

function result(each: Schemas["OperationResult"]): string {
  switch (each.op) {
    case "create_task":
      return `${each.ref ?? ""} ${each.task.title} ${each.etag}`;
    case "delete_task":
      // @ts-expect-error: a deletion's result carries no task
      void each.task;
      return String(each.status);
    case "invite":
      return each.invitation.invitee_id;
    default:
      return each.op;
  }
}

export async function calls(client: ReturnType<typeof createClient<paths>>): Promise<string> {
  const listed = await client.GET("/api/{user_id}/tasks", { params: { path: { user_id: "me" } } });
  if (listed.error !== undefined) {
    holds<Equal<typeof listed.error, Schemas["Error"]>>();
    return listed.error.message;
  }
  // @ts-expect-error: sort orders are the documented ones
  void client.GET("/api/{user_id}/tasks", { params: { path: { user_id: "me" }, query: { sort: "newest" } } });
  const batch = await client.POST("/api/{user_id}/batch", {
    params: { path: { user_id: "me" } },
    body: { operations: [{ op: "create_task", ref: "a", task: { title: "x" } }, { op: "complete_task", task_ref: "a" }] },
  });
  if (batch.error !== undefined) {
    return `${batch.error.operation ?? ""} ${batch.error.message}`;
  }
  void batch.data.results.map(result);
  // @ts-expect-error: an operation is one of the documented ones
  void client.POST("/api/{user_id}/batch", { params: { path: { user_id: "me" } }, body: { operations: [{ op: "explode" }] } });
  const feed = await client.GET("/api/{user_id}/changes", { params: { path: { user_id: "me" } } });
  return feed.data === undefined ? feed.error.message : feed.data.changes.map(change).join();
}
