"""The reference design's registry endpoint, for `cargo xtask bench collector`.

`POST /api/v1/telemetry` takes a JSON array of model_registration events,
validates each with a Pydantic model, and stores the valid ones in SQLite
with the collector's schema (crates/telemetry-collector/migrations/sqlite/
0001_init.sql): WAL, synchronous=FULL, one transaction per request,
`INSERT ... ON CONFLICT (dedup_key) DO NOTHING`. It answers
`{"accepted": N, "rejected": M, "errors": [{"index": i, "reason": "..."}]}`;
a duplicate counts as accepted. A body that is not a JSON array is a 400.

    BENCH_SQLITE_PATH=/tmp/ref.db uvicorn fastapi_app:app --port 8001 --workers 1

The endpoint is a plain `def`, so FastAPI runs it on its thread pool: one
request's transaction commits while others are parsed and validated. The
transactions share one connection, one at a time under a lock (SQLite takes
one writer at a time anyway; a connection per thread measured the same
throughput with a far longer tail, its writers sleeping in SQLite's busy
handler).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

MIGRATION = (
    Path(__file__).resolve().parents[2]
    / "crates/telemetry-collector/migrations/sqlite/0001_init.sql"
)
DATABASE = os.environ.get("BENCH_SQLITE_PATH", "fastapi-bench.db")
# The bench's fixed key for registration_hash (the collector keeps its own).
HASH_KEY = b"telemetry-collector-bench-key"


class ModelRegistration(BaseModel):
    """One model_registration event, as reference 004 shows it, plus `uuid`."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    uuid: UUID
    event_type: Literal["model_registration"]
    model_name: str = Field(min_length=1, max_length=512)
    model_source: str = Field(min_length=1, max_length=256)
    model_version: str | None = Field(default=None, max_length=256)
    embedding_dimension: StrictInt = Field(gt=0, le=1_000_000)
    modalities: list[str] = Field(min_length=1, max_length=16)
    distance_metric: str | None = Field(default=None, max_length=64)
    normalization: str | None = Field(default=None, max_length=64)
    load_success: StrictBool
    inference_success: StrictBool
    device_type: str = Field(min_length=1, max_length=64)
    local_path_hash: str | None = Field(default=None, max_length=128)
    timestamp: datetime
    client_id: UUID


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    errors: list[dict[str, Any]]


INSERT = """
INSERT INTO model_registrations (
    dedup_key, registration_hash, model_name, model_source, model_version,
    embedding_dimension, modalities, distance_metric, normalization,
    load_success, inference_success, device_type, local_path_hash,
    event_time, received_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dedup_key) DO NOTHING
"""

def connect() -> sqlite3.Connection:
    connection = sqlite3.connect(
        DATABASE, isolation_level=None, timeout=30.0, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'model_registrations'"
    ).fetchone()
    if not exists:
        connection.executescript(MIGRATION.read_text())
    return connection


DB = connect()
WRITE = threading.Lock()


def registration_hash(model_name: str, client_id: UUID) -> str:
    message = model_name.encode() + b"\0" + str(client_id).encode()
    return hmac.new(HASH_KEY, message, hashlib.sha256).hexdigest()


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def row(event: ModelRegistration, received_at: int) -> tuple[Any, ...]:
    return (
        str(event.uuid),
        registration_hash(event.model_name, event.client_id),
        event.model_name,
        event.model_source,
        event.model_version,
        event.embedding_dimension,
        json.dumps(event.modalities, separators=(",", ":")),
        event.distance_metric,
        event.normalization,
        int(event.load_success),
        int(event.inference_success),
        event.device_type,
        event.local_path_hash,
        rfc3339(event.timestamp),
        received_at,
    )


app = FastAPI(title="reference registry endpoint")


@app.exception_handler(RequestValidationError)
async def not_an_array(_request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        status_code=400,
        content={"error": f"the body must be a JSON array of events ({error.errors()[0]['msg']})"},
    )


@app.post("/api/v1/telemetry", response_model=IngestResult)
def ingest(events: list[Any] = Body(...)) -> IngestResult:
    received_at = int(time.time())
    rows = []
    errors = []
    for index, raw in enumerate(events):
        try:
            event = ModelRegistration.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "event"
            errors.append({"index": index, "reason": f"{where}: {first['msg']}"})
            continue
        rows.append(row(event, received_at))
    if rows:
        with WRITE:
            DB.execute("BEGIN IMMEDIATE")
            try:
                DB.executemany(INSERT, rows)
                DB.execute("COMMIT")
            except BaseException:
                DB.execute("ROLLBACK")
                raise
    return IngestResult(accepted=len(rows), rejected=len(errors), errors=errors)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
