"""Flow files are validated at start; every mistake names the file, the state and the field."""
import pytest

from ivr.flow import FlowError, load_flow
from tts import load_prompts



def write_flow(tmp_path, text: str):
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return path


GOOD = """
start: hello
agent_state: agent
states:
  hello:
    say: welcome
    next: menu
  menu:
    prompt: main_menu
    expect: intent
    "on": {check_balance: bye}
  agent:
    say: transfer_to_agent
    transfer: caller_request
  bye:
    say: goodbye
    end: completed
"""


def test_shipped_flow_is_valid():
    flow = load_flow()
    assert flow.start == "welcome" and "main_menu" in flow.states and flow.max_failures == 3


def test_small_valid_flow(tmp_path):
    flow = load_flow(write_flow(tmp_path, GOOD))
    assert flow.states["menu"].on == {"check_balance": "bye"}


@pytest.mark.parametrize("change,message", [
    (("next: menu", "next: mneu"), "state 'hello' field 'next': unknown state 'mneu'"),
    (("say: welcome", "say: welcom"), "state 'hello' field 'say': unknown prompt 'welcom'"),
    (("expect: intent", "expect: mood"), "state 'menu' field 'expect': must be one of"),
    (("check_balance: bye", "check_balance: nowhere"), "state 'menu' field 'on.check_balance': unknown state"),
    (("end: completed", "end: happy"), "state 'bye' field 'end'"),
    (("start: hello", "start: nope"), "field 'start': unknown state 'nope'"),
    (("    next: menu\n", "    next: menu\n    colour: blue\n"), "state 'hello': unknown field 'colour'"),
    (("    say: transfer_to_agent\n    transfer: caller_request\n", "    say: transfer_to_agent\n"),
     "state 'agent': leads nowhere"),
    (("    prompt: main_menu\n", "    prompt: main_menu\n    action: launch_rockets\n"),
     "state 'menu' field 'action': unknown action 'launch_rockets'"),
    (("    expect: intent\n", "    expect: intent\n    dtmf: {A: check_balance}\n"), "'A' is not a phone key"),
    (("states:", "states: [oops"), "not valid YAML"),
])
def test_mistakes_are_named(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    path = write_flow(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(FlowError) as err:
        load_flow(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_prompts_file_errors_are_clear(tmp_path):
    with pytest.raises(FlowError, match="cannot read flow"):
        load_flow(tmp_path / "missing.yaml")
    assert {"welcome", "main_menu", "goodbye"} <= set(load_prompts("en"))


def test_intents_are_whatever_the_intents_yaml_declares(tmp_path):
    from ivr.nlu import intent_names

    path = write_flow(tmp_path, GOOD.replace("check_balance: bye", "pay_bill: bye"))
    with pytest.raises(FlowError, match="state 'menu' field 'on.pay_bill': unknown intent 'pay_bill'"):
        load_flow(path)
    intents = tmp_path / "intents.yaml"
    intents.write_text("intents:\n  pay_bill:\n    examples: [pay my bill, pay the electricity bill]\n")
    assert load_flow(path, intents=intent_names(intents)).states["menu"].on == {"pay_bill": "bye"}


def test_shipped_flow_names_its_special_states():
    flow = load_flow()
    assert (flow.requests, flow.transfer_failed_state, flow.frustration_state) == ("main_menu", "transfer_failed",
                                                                                  "frustrated")
    assert flow.dtmf_globals == {"0": "speak_to_agent", "*": "repeat", "9": "switch_language"}
    assert {n for n, st in flow.states.items() if st.confirming} >= {"anything_else", "transfer_confirm"}
