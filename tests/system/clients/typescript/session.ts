// A session with openapi-fetch and the types openapi-typescript generates from taskapp's
// OpenAPI document (taskapp.ts). docs/generated-clients.md shows this file;
// tests/system/test_generated_clients.py type-checks it with `tsc --strict --noEmit` and runs it
// against `taskapp serve`.
import createClient from "openapi-fetch";
import type { components, paths } from "./taskapp";

type ChangePage = components["schemas"]["ChangePage"];
type Failure = components["schemas"]["Error"];

function ok<T>(answer: { data?: T; error?: Failure }): T {
  if (answer.error !== undefined) {
    throw new Error(`${answer.error.code} ${answer.error.status}: ${answer.error.message}`);
  }
  if (answer.data === undefined) {
    throw new Error("an answer the OpenAPI document does not describe");
  }
  return answer.data;
}

// Apply a page of the change feed: each change is a task as it is now, or a task that is gone.
function show(feed: ChangePage): void {
  for (const change of feed.changes) {
    switch (change.op) {
      case "upsert":
        console.log(`feed: '${change.task.title}' is now completed=${change.task.completed}`);
        break;
      case "delete":
        console.log(`feed: task ${change.task_id} is gone`);
        break;
    }
  }
}

export async function session(baseUrl: string, token: string): Promise<void> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const me = { user_id: "me" };

  const task = ok(await client.POST("/api/{user_id}/tasks", {
    params: { path: me },
    body: { title: "Write the report", tags: ["work"] },
  }));
  console.log(`created '${task.title}' (${task.priority}, due ${task.due_at})`);

  const listed = ok(await client.GET("/api/{user_id}/tasks", {
    params: { path: me, query: { tag: ["work"], sort: "-created_at" } },
  }));
  for (const each of listed) {
    console.log(`listed '${each.title}', completed=${each.completed}`);
  }

  const done = ok(await client.PATCH("/api/{user_id}/tasks/{task_id}/complete", {
    params: { path: { ...me, task_id: task.id } },
  }));
  console.log(`completed at ${done.completed_at}`);

  const feed = ok(await client.GET("/api/{user_id}/changes", { params: { path: me } })); // everything, as it is now
  show(feed);

  const deleted = await client.DELETE("/api/{user_id}/tasks/{task_id}", {
    params: { path: { ...me, task_id: task.id } },
  });
  console.log(`deleted: ${deleted.response.status}`);

  show(ok(await client.GET("/api/{user_id}/changes", { params: { path: me, query: { since: feed.next } } })));
}
