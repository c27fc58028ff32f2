"""The prompt's window evidence: lines in a steady order and where the task's words are."""

from ontask.prompt import WHERE_TASK_WORDS, prompt_text
from ontask.verify import builtin_verifier_config

RULES = builtin_verifier_config()

TASK = "Answer customer tickets about refunds in the support desk"
EDITOR = {"app": "Zendesk", "title": "Ticket #4411: refund not received", "focused": False}
MUSIC = {"app": "Spotify", "title": "Deep Focus", "focused": True}


def test_the_focused_window_comes_last_and_each_line_names_the_task_words():
    lines = prompt_text(TASK, [MUSIC, EDITOR], RULES).splitlines()
    assert lines[1].startswith("- [background] Zendesk: Ticket #4411") and "(task words: refund, ticket)" in lines[1]
    assert lines[2] == "- [focused] Spotify: Deep Focus (task words: none)"


def test_a_line_says_where_the_task_words_are():
    # The task's work behind the focus music, or another task's: only this line tells them apart
    # at a fixed place near the question.
    assert WHERE_TASK_WORDS["background"] in prompt_text(TASK, [EDITOR, MUSIC], RULES).splitlines()
    assert (
        WHERE_TASK_WORDS["none"] in prompt_text("Design the landing page mockup", [EDITOR, MUSIC], RULES).splitlines()
    )
    focused = dict(EDITOR, focused=True)
    assert WHERE_TASK_WORDS["focused"] in prompt_text(TASK, [focused, dict(MUSIC, focused=False)], RULES).splitlines()


def test_no_windows_no_summary():
    text = prompt_text(TASK, [], RULES)
    assert "- (no window information)" in text and "Task words in" not in text
