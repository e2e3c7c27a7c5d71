"""The judge's side of the conversation: handles to a student's objects, and two ways to
reach the probe that holds them.

- :class:`LocalChannel`: the probe in this process (the book's and the notebooks'
  self-checks). Requests and answers still go through the wire encoding, so a checker
  sees exactly what it would see when grading.
- :class:`FrameChannel`: the probe in the grading sandbox, over a pipe (the grading side
  builds it, with a time limit on every answer).

A :class:`Remote` stands for one object on the probe's side. Everything it returns is
plain data decoded here: a lying ``__eq__``, a tensor subclass or a patched torch on the
probe's side cannot follow the value across.
"""

from __future__ import annotations

from typing import Any

from cnncourse.probe.wire import (
    FrameReader,
    Message,
    WireError,
    decode,
    encode,
    write_frame,
)


class ProbeUnavailable(BaseException):
    """The probe stopped answering (its time ran out, it crashed, it closed the channel).

    A ``BaseException``: the checkers' ``except Exception`` must not turn it into a
    verdict about the answer; the grading side reports it for the whole test."""


class Channel:
    """Sends one request and returns the decoded answer (a dict)."""

    def exchange(self, message: Message) -> Message:
        raise NotImplementedError

    def ask(self, op: str, **fields: Any) -> dict:
        message = encode({"op": op, **fields}, special=_as_ref)
        reply = self.exchange(message)
        try:
            answer = decode(reply, handle=lambda info: Remote(self, info))
        except WireError as error:
            raise ProbeUnavailable(f"the probe answered with something that is not plain "
                                   f"data ({error})") from None
        if not isinstance(answer, dict) or not answer.keys() & {"ok", "raised", "violation",
                                                                "error"}:
            raise ProbeUnavailable("the probe answered out of turn")
        if "error" in answer:
            raise ProbeUnavailable(f"the probe could not serve a request: "
                                   f"{str(answer['error'])[:500]}")
        return answer


def _as_ref(value: Any) -> dict | None:
    return {"$ref": value.id} if isinstance(value, Remote) else None


class LocalChannel(Channel):
    """A probe in this process."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def exchange(self, message: Message) -> Message:
        return self.server.handle(message)


class FrameChannel(Channel):
    """A probe at the other end of a pipe: frames written to ``write_fd``, read back with
    ``reader`` (which enforces the time limit)."""

    def __init__(self, write_fd: int, reader: FrameReader) -> None:
        self.write_fd = write_fd
        self.reader = reader

    def exchange(self, message: Message) -> Message:
        try:
            write_frame(self.write_fd, message)
            return self.reader.read()
        except (OSError, EOFError, WireError) as error:
            raise ProbeUnavailable(str(error) or type(error).__name__) from None


def _text(info: dict, key: str, limit: int = 300) -> str:
    value = info.get(key, "")
    return value[:limit] if isinstance(value, str) else ""


class Remote:
    """An object held by the probe. What it is, as the probe described it, and requests
    about it; each request returns the probe's answer dict (``ok`` / ``raised`` /
    ``violation``)."""

    def __init__(self, channel: Channel, info: dict) -> None:
        if not isinstance(info.get("$h"), int):
            raise WireError("bad handle")
        self.channel = channel
        self.id: int = info["$h"]
        self.type_name = _text(info, "type") or "object"
        self.repr_text = _text(info, "repr") or f"<{self.type_name}>"
        self.name = _text(info, "name", 100)
        self.callable = info.get("callable") is True
        self.is_class = info.get("is_class") is True
        self.is_module = info.get("is_module") is True
        self.module_class = info.get("module_class") is True

    def __repr__(self) -> str:
        return self.repr_text

    @property
    def short_type(self) -> str:
        """``BasicBlock`` for ``__main__.BasicBlock``."""
        return self.type_name.rsplit(".", 1)[-1]

    def ask(self, op: str, **fields: Any) -> dict:
        return self.channel.ask(op, target=self, **fields)

    def info(self, references: list[str]) -> dict:
        """Type, class hierarchy, and whether it is, wraps or subclasses the course's
        reference (looked up in ``references``, module names)."""
        answer = self.ask("info", references=references).get("ok")
        return answer if isinstance(answer, dict) else {}

    def call(self, *args: Any, guard: dict | None = None, method: str | None = None,
             grad: bool = True, **kwargs: Any) -> dict:
        return self.ask("call", method=method, args=list(args), kwargs=kwargs, guard=guard,
                        grad=grad)

    def getattr(self, name: str) -> dict:
        return self.ask("getattr", name=name)

    def describe(self) -> list[dict]:
        """The module's layers (see ``server.op_describe``)."""
        answer = self.ask("describe").get("ok")
        if not isinstance(answer, list):
            raise ProbeUnavailable("the probe described a module as something else")
        return [layer for layer in answer if isinstance(layer, dict)]

    def state(self) -> dict:
        return self.ask("state")

    def load(self, state: dict, strict: bool = True) -> dict:
        return self.ask("load", state=state, strict=strict)

    def assign(self, values: dict) -> dict:
        return self.ask("assign", values=values)

    def forward(self, *args: Any, train: bool | None = None, grad_output: Any = None,
                guard: dict | None = None) -> dict:
        return self.ask("forward", args=list(args), train=train, grad_output=grad_output,
                        guard=guard)


def local_remote(obj: Any, namespace: dict | None = None) -> Remote:
    """A handle to ``obj`` through a probe in this process (self-checks)."""
    from cnncourse.probe.server import ProbeServer

    server = ProbeServer(namespace)
    channel = LocalChannel(server)
    info = server.register(obj)
    return Remote(channel, info)


def lookup(channel: Channel, name: str) -> Any:
    """The notebook's ``name`` as the probe holds it: a handle, or a plain value (a number,
    a list) decoded here; a name the notebook never defined raises ``NameError``."""
    answer = channel.ask("name", name=name)
    if "ok" not in answer:
        raise NameError(f"name '{name}' is not defined")
    return answer["ok"]
