# The Python MCP SDK (`mcp`) as a 2026-07-28 client of durabox's MCP endpoint with the Tasks extension
# (io.modelcontextprotocol/tasks, SEP-2663), through the SDK's own extension API: a ClientExtension whose
# ResultClaim takes a tools/call answered with `resultType: "task"` and polls tasks/get until the task ends,
# each request bounded by the client's own read timeout (REQUEST_TIMEOUT_S), however long the task runs.
# Settings from the environment: MCP_URL, MCP_TOKEN, CODE, TIMEOUT_MS, REQUEST_TIMEOUT_S.
# Prints one JSON object per line ({"event": ...}); test/e2e/mcp-tasks.test.ts asserts on them.
import json
import os
import sys
import time
from typing import Any, Literal

import anyio
import httpx2
from mcp.client import ClaimContext, Client, ClientExtension, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation, Request, RequestParams, Result

TASKS = "io.modelcontextprotocol/tasks"
TERMINAL = ("completed", "failed", "cancelled")
T0 = time.monotonic()


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "at_s": round(time.monotonic() - T0, 3), **fields}), flush=True)


class TaskFields(Result):
    """The task's state as SEP-2663 spells it (camelCase on the wire, from the models' alias generator)."""

    task_id: str
    status: str
    status_message: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class CreatedTask(TaskFields):
    """A tools/call answered with a task instead of its result."""

    result_type: Literal["task"]


class TaskSnapshot(TaskFields):
    """A tasks/get answer: the task, and its CallToolResult once completed."""

    result_type: str | None = None
    result: dict[str, Any] | None = None


class GetTaskParams(RequestParams):
    task_id: str


class GetTask(Request[GetTaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: GetTaskParams
    # SEP-2663 mirrors the task id into the Mcp-Name header of tasks/* requests.
    name_param = "taskId"


class Tasks(ClientExtension):
    """The Tasks extension: declared in every request's client capabilities; resolves claimed task results."""

    identifier = TASKS

    def __init__(self) -> None:
        self.polls = 0
        self.statuses: list[str] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> CallToolResult:
        emit("task", task_id=created.task_id, status=created.status, poll_interval_ms=created.poll_interval_ms, ttl_ms=created.ttl_ms, created_at=created.created_at)
        interval = (created.poll_interval_ms or 1000) / 1000
        while True:
            await anyio.sleep(interval)
            # Each poll is an ordinary request: the session's read timeout bounds it, not the task's run.
            snap = await ctx.session.send_request(GetTask(params=GetTaskParams(task_id=created.task_id)), TaskSnapshot, request_read_timeout_seconds=ctx.read_timeout_seconds)
            self.polls += 1
            if not self.statuses or self.statuses[-1] != snap.status:
                self.statuses.append(snap.status)
            if snap.status in TERMINAL:
                break
            interval = (snap.poll_interval_ms or created.poll_interval_ms or 1000) / 1000
        emit("terminal", task_id=snap.task_id, status=snap.status, result_type=snap.result_type, polls=self.polls, statuses=self.statuses)
        if snap.status != "completed" or snap.result is None:
            raise RuntimeError(f"task {snap.task_id} ended {snap.status} without a result")
        return CallToolResult.model_validate(snap.result)


async def main() -> None:
    url, token = os.environ["MCP_URL"], os.environ["MCP_TOKEN"]
    request_timeout = float(os.environ.get("REQUEST_TIMEOUT_S", "20"))
    arguments = {"code": os.environ["CODE"], "timeout_ms": int(os.environ.get("TIMEOUT_MS", "60000"))}
    tasks = Tasks()
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    async with http:
        async with Client(
            streamable_http_client(url, http_client=http),
            mode="auto",
            read_timeout_seconds=request_timeout,
            extensions=[tasks],
            client_info=Implementation(name="durabox-tasks-py", version="1.0.0"),
        ) as client:
            extensions = client.server_capabilities.extensions or {}
            emit("connected", protocol_version=client.protocol_version, tasks_extension=extensions.get(TASKS))
            started = time.monotonic()
            result = await client.call_tool("pythonExec", arguments)
            emit(
                "result",
                elapsed_s=round(time.monotonic() - started, 3),
                request_timeout_s=request_timeout,
                is_error=bool(result.is_error),
                structured=result.structured_content,
                text=[c.text for c in result.content if getattr(c, "type", None) == "text"],
                polls=tasks.polls,
            )


try:
    anyio.run(main)
except Exception as e:  # the SDK's own exception, for the test's message
    emit("error", error=type(e).__name__, message=str(e)[:2000])
    sys.exit(1)
