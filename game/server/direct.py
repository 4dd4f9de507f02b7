"""A cheaper responder for the game commands, through AMP's public interface.

A move is most of what a server answers, and :class:`amp.CommandLocator`'s
generic responder costs more than deciding it: a bound method and a closure
made per request, arguments parsed through the generic string-to-object
walk, three ``maybeDeferred``s and the answer built through the generic
object-to-string walk.  :func:`game_responder` answers a command whose
answer is one game document with the command's own argument parsers and
one callback pair.  It is what ``locateResponder`` may return by
:class:`~twisted.protocols.amp.IResponderLocator`'s contract (a function
of the request box, returning the answer box or a Deferred of it); the
dispatch, the ``_answer``/``_error`` framing and the sending stay stock
AMP's.  Tests compare its answers with the stock responder's byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import protocol as p

Responder = Callable[[amp.AmpBox], Any]


def game_responder(
    command: type[p.Command],
    answer: Callable[..., Deferred[str]],
    stock: Responder,
) -> Responder:
    """A responder for ``command`` (whose answer is ``{"game": document}``).

    :param answer: called with the parsed arguments, by name; returns the
        game document (or fails, or raises, with the command's errors).
    :param stock: the stock responder of the same command, which answers
        any request whose arguments do not parse (so that ``BAD_REQUEST``
        carries :class:`~game.protocol.Command`'s own text).
    """
    # (wire name, name, parser, optional), looked up once, not per request.
    arguments: list[tuple[bytes, str, Callable[[bytes], Any], bool]] = [
        (wire_name, wire_name.decode("ascii"), argument.fromString, bool(argument.optional))
        for wire_name, argument in command.arguments
    ]
    declared = {**command.errors, **command.fatalErrors}
    known = tuple(declared)

    def error_answer(failure: Failure) -> Failure:
        """A declared error as its code and text, as the stock responder sends it."""
        error_type = failure.check(*known)  # type: ignore[no-untyped-call]
        if error_type is None:
            return failure  # RemoteAmpError already, or one for the caller's INTERNAL
        fatal = error_type in command.fatalErrors
        error = amp.RemoteAmpError(  # type: ignore[no-untyped-call]
            declared[error_type], str(failure.value), fatal
        )
        return Failure(error)  # type: ignore[no-untyped-call]

    def respond(box: amp.AmpBox) -> Any:
        kw: dict[str, Any] = {}
        try:
            for wire, name, parse, optional in arguments:
                kw[name] = None if optional and wire not in box else parse(box[wire])
        except Exception:
            return stock(box)
        try:
            document = answer(**kw)
        except Exception:
            document = fail()
        return document.addCallbacks(_game_box, error_answer)

    return respond


def _game_box(document: str) -> amp.AmpBox:
    return amp.AmpBox({b"game": document.encode("utf-8")})  # type: ignore[no-untyped-call]
