"""The original plan's stack, as a benchmark reference: FastAPI + SQLModel, served by uvicorn.

Not part of the service: the same hot paths as taskapp (list, search, filter, get one, create,
toggle, complete a recurring task, poll the change feed), written the way that stack's
tutorials write them — SQLModel table and read models, `response_model`s validated by pydantic,
a sync engine and sync `def` endpoints in FastAPI's threadpool, HTTPBearer and PyJWT — against
the same database, policies and identity: every request's transaction first runs taskapp's
identity statement with its proof, and no query names an owner (row-level security decides).

    uvicorn bench.plan:app --workers N   (DATABASE_URL, JWT_SECRET_KEY, TASKAPP_IDENTITY_KEY, DATABASE_POOL_SIZE)
"""

import enum
import hashlib
import os
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, FastAPI, HTTPException, Query, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import FetchedValue, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, ENUM
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from bench.scenarios import FEED_SINCE, SEARCH, sync_position
from taskapp.config import sqlalchemy_url
from taskapp.identity.proof import IdentityKey, set_identity_sql

SECRET = os.environ["JWT_SECRET_KEY"]
IDENTITY_KEY = IdentityKey(os.environ["TASKAPP_IDENTITY_KEY"])
IDENTITY = text(set_identity_sql(":user", ":proof"))
# As many connections per worker as taskapp's (its pool has no overflow either).
engine = create_engine(sqlalchemy_url(os.environ["DATABASE_URL"]),
                       pool_size=int(os.environ.get("DATABASE_POOL_SIZE", "5")), max_overflow=0)


class Priority(str, enum.Enum):
    low = "low"
    medium = "medium"
    high = "high"


class TaskBase(SQLModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    priority: Priority = Field(default=Priority.medium, sa_type=ENUM(Priority, name="task_priority", create_type=False))
    due_at: datetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=20, sa_type=ARRAY(Text))
    list_id: uuid.UUID | None = None


# Filled in by the database when not given: the list (the caller's Inbox), the owner (the
# transaction's identity), the stamps (tasks_stamp).
DATABASE_DEFAULT = {"server_default": FetchedValue()}


class Task(TaskBase, table=True):
    """The existing `tasks` table (the columns used here; the schema is the migrations')."""

    __tablename__ = "tasks"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    list_id: uuid.UUID | None = Field(default=None, sa_column_kwargs=DATABASE_DEFAULT)
    user_id: str | None = Field(default=None, sa_column_kwargs=DATABASE_DEFAULT)
    completed: bool = False
    completed_at: datetime | None = None
    created_at: datetime | None = Field(default=None, sa_column_kwargs=DATABASE_DEFAULT)
    updated_at: datetime | None = Field(default=None, sa_column_kwargs=DATABASE_DEFAULT)
    recurrence: str | None = None
    time_zone: str = "UTC"
    repeat_from: str = "due"
    series_completions: int = 0


class TaskCompletion(SQLModel, table=True):
    __tablename__ = "task_completions"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    list_id: uuid.UUID = Field(primary_key=True)
    task_id: uuid.UUID
    due_at: datetime | None = None  # completed_at and completed_by: the database's defaults


class TaskCreate(TaskBase):
    pass


class TaskPublic(TaskBase):
    id: uuid.UUID
    user_id: str
    list_id: uuid.UUID
    completed: bool
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    recurrence: str | None
    time_zone: str
    repeat_from: str


class Upsert(SQLModel):
    op: Literal["upsert"]
    task: TaskPublic


class Delete(SQLModel):
    op: Literal["delete"]
    task_id: uuid.UUID


class ChangePage(SQLModel):
    changes: list[Upsert | Delete]
    next: str
    has_more: bool


bearer = HTTPBearer()


def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    try:
        return jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"])["sub"]
    except (jwt.PyJWTError, KeyError):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token", {"WWW-Authenticate": "Bearer"}) from None


CurrentUser = Annotated[str, Depends(current_user)]


def get_session(user: CurrentUser):
    """One transaction per request, acting as the caller; committed before the answer is sent."""
    with Session(engine) as session, session.begin():
        session.exec(IDENTITY, params={"user": user, "proof": IDENTITY_KEY.proof(user)})
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

app = FastAPI(title="taskapp, the original plan's stack (benchmark reference)")


def etag(task: Task) -> str:
    """As taskapp's: the task's id and updated_at, hashed."""
    return '"' + hashlib.sha256(f"{task.id}:{task.updated_at.isoformat()}".encode()).hexdigest()[:32] + '"'


def task_or_404(session: Session, task_id: uuid.UUID, for_update: bool = False) -> Task:
    task = session.get(Task, task_id, with_for_update=for_update)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return task


@app.get("/api/me/tasks", response_model=list[TaskPublic])
def list_tasks(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    q: str | None = None,
    completed: bool | None = None,
    tag: str | None = None,
    sort: Literal["due_at"] | None = None,
    list_id: uuid.UUID | None = None,
):
    statement = select(Task)
    if q is not None:
        statement = statement.where(text(SEARCH).bindparams(q=q))
    if completed is not None:
        statement = statement.where(Task.completed == completed)
    if tag is not None:
        statement = statement.where(col(Task.tags).contains([tag]))
    if list_id is not None:
        statement = statement.where(Task.list_id == list_id)
    if sort == "due_at":
        statement = statement.order_by(col(Task.due_at).asc().nulls_last(), col(Task.id).asc())
    else:
        statement = statement.order_by(col(Task.created_at).desc(), col(Task.id).desc())
    return session.exec(statement.limit(limit)).all()


@app.get("/api/me/tasks/{task_id}", response_model=TaskPublic)
def get_task(task_id: uuid.UUID, session: SessionDep, response: Response):
    task = task_or_404(session, task_id)
    response.headers["ETag"] = etag(task)
    return task


@app.post("/api/me/tasks", response_model=TaskPublic, status_code=status.HTTP_201_CREATED)
def create_task(body: TaskCreate, session: SessionDep, response: Response):
    task = Task.model_validate(body)
    session.add(task)
    session.flush()
    session.refresh(task)  # the row as the database wrote it (its triggers stamp it)
    response.headers["Location"] = f"/api/me/tasks/{task.id}"
    response.headers["ETag"] = etag(task)
    return task


@app.patch("/api/me/tasks/{task_id}/complete", response_model=TaskPublic)
def toggle_task(task_id: uuid.UUID, session: SessionDep, response: Response):
    """Toggle a plain task; an open recurring one moves a day on, its completion recorded."""
    task = task_or_404(session, task_id, for_update=True)
    if task.recurrence is not None and not task.completed:
        session.add(TaskCompletion(list_id=task.list_id, task_id=task.id, due_at=task.due_at))
        task.due_at += timedelta(days=1)
        task.series_completions += 1
    else:
        task.completed = not task.completed  # the database stamps completed_at and records the history
    session.add(task)
    session.flush()
    session.refresh(task)
    response.headers["ETag"] = etag(task)
    return task


CURSOR_KEY = os.environ.get("TASKAPP_SECRET_KEY") or SECRET


@app.get("/api/me/changes", response_model=ChangePage)
def changes(since: str, user: CurrentUser, session: SessionDep):
    """As the other references: the token read, then taskapp's feed statement from the current position."""
    if sync_position(since, user, CURSOR_KEY) is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid sync token")
    rows = session.exec(text(FEED_SINCE)).mappings().all()
    page = [row for row in rows if row["op"] is not None]
    found = [Delete(op="delete", task_id=row["id"]) if row["op"] == "delete"
             else Upsert(op="upsert", task=TaskPublic.model_validate(dict(row))) for row in page[:100]]
    return ChangePage(changes=found, next=since, has_more=len(page) > 100)
