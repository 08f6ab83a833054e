"""Start-up refuses a spec and handlers that disagree, with a message naming both sides."""

import pytest

from klavi_mock.spec.operations import load_spec
from klavi_mock.web.apis.data_v1.handlers import HANDLERS, NOT_SERVED
from klavi_mock.web.server.routing import SpecMismatch, check_handlers


def test_the_shipped_spec_and_handlers_agree():
    check_handlers("klavi.yaml", load_spec("klavi.yaml"), HANDLERS, NOT_SERVED)


def test_an_operation_without_a_handler_stops_startup():
    handlers = {k: v for k, v in HANDLERS.items() if k != "createLink"}
    with pytest.raises(SpecMismatch, match=r"operations with no handler: createLink \(POST /links\)"):
        check_handlers("klavi.yaml", load_spec("klavi.yaml"), handlers, NOT_SERVED)


def test_a_handler_without_an_operation_stops_startup():
    handlers = {**HANDLERS, "getLinkById": HANDLERS["createLink"]}
    with pytest.raises(SpecMismatch, match="handlers with no operation in the spec: getLinkById"):
        check_handlers("klavi.yaml", load_spec("klavi.yaml"), handlers, NOT_SERVED)


def test_an_operation_both_served_and_listed_as_not_served_stops_startup():
    with pytest.raises(SpecMismatch, match="both handled and listed as not served: createLink"):
        check_handlers("klavi.yaml", load_spec("klavi.yaml"), HANDLERS, NOT_SERVED | {"createLink"})
