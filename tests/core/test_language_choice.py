"""The language a person reads, chosen for one block of one thread: `serve` writes a workbook's
Chinese cells (outputs.workbook) or a chart's labels in a task thread while a request thread renders
the page in the officer's language; neither may see the other's choice."""

from __future__ import annotations

import threading

from cpi_link.core.i18n import _, current_language, language, set_language


def test_a_block_in_one_thread_does_not_change_the_language_of_another():
    previous = set_language("en")  # the page's choice for every thread (one officer, one language)
    inside, go_on = threading.Event(), threading.Event()
    seen = {}

    def task():  # the workbook's task: Chinese words inside its block
        with language("zh"):
            seen["task"] = (current_language(), _("no such page"))
            inside.set()
            go_on.wait(10)
        seen["task after"] = current_language()

    try:
        t = threading.Thread(target=task)
        t.start()
        assert inside.wait(10)
        seen["page"] = (current_language(), _("no such page"))  # rendered while the task is inside its block
        go_on.set()
        t.join(10)
    finally:
        set_language(previous)
    assert seen["task"] == ("zh", "没有这个页面")
    assert seen["page"] == ("en", "no such page")
    assert seen["task after"] == "en"


def test_blocks_nest_and_none_is_the_command_s_language():
    previous = set_language("zh")
    try:
        with language("en"):
            assert current_language() == "en"
            with language(None):
                assert current_language() == "zh"
            with language("zh"):
                assert current_language() == "zh"
            assert current_language() == "en"
        assert current_language() == "zh"
    finally:
        set_language(previous)
