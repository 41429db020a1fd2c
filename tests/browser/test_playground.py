"""`/playground` in a real browser: a spoken call through the page, offline.

Chromium's microphone is a WAV file (espeak-ng speech, looped from when the page opens the
microphone): two seconds of quiet, a question, quiet while the agent answers, then a second
sentence while the agent is still speaking (a barge-in), then quiet. The server runs the
embedded stack (Silero VAD, Whisper), so the user's line on the page is what Whisper heard;
the agent thinks and speaks with the fakes (`fake-llm` writes thirty words, `fake-tts`
says each as 300 ms of tone), chosen in the agent form, so its reply is long enough to be
talked over at a known time. Screenshots of each step go to docs/screenshots with
`PARLEY_SCREENSHOTS=1`.
"""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from parley.config import Settings
from parley.server.runner import serving
from tests.browser.conftest import MicBrowser, OfflinePage, screenshots, watched
from tests.support.speech import noise, require_tools, speech

KEY = "pk_playground_browser_key_0123456789"
RATE = 16000
QUESTION = "what time does the office open"
BARGE_IN_AT_S = 9.5  # mid-reply: the reply starts about 5-7 s in and lasts 9 s
TIMEOUT = 30_000


def microphone_wav(folder: Path) -> Path:
    require_tools()
    question = speech(QUESTION)
    before = noise(2.0, seed=1)
    spoken_s = (len(before) + len(question)) / 2 / RATE
    gap = noise(BARGE_IN_AT_S - spoken_s, seed=2)
    audio = before + question + gap + speech("sorry, stop, one more thing") + noise(30.0, seed=3)
    path = folder / "microphone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio)
    return path


def quiet_wav(folder: Path) -> Path:
    """A microphone that hears only room noise (for calls driven by typed turns)."""
    path = folder / "quiet.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(noise(5.0))
    return path


async def played_ms(page: Page) -> int:
    return int(await page.get_by_test_id("played-ms").inner_text())


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/playground")
    await page.get_by_label("API key").fill(KEY)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Agents")).to_be_visible(timeout=TIMEOUT)


async def test_a_spoken_call_with_barge_in_through_the_playground(
    browser_with_mic: MicBrowser, tmp_path: Path
) -> None:
    browser = await browser_with_mic(microphone_wav(tmp_path))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    seen = await watched(await context.new_page())
    page = seen.page
    shots = screenshots(tmp_path)
    settings = Settings(data_dir=tmp_path / "data", api_keys=(KEY,), admission=False)
    async with serving(settings) as base:
        # sign in: the key is kept for the tab only
        await sign_in(page, base)
        storage = await page.evaluate(
            "() => [sessionStorage.getItem('parley.apiKey'), localStorage.length, document.cookie]"
        )
        assert storage == [KEY, 0, ""]
        assert await context.cookies() == []
        await page.screenshot(path=str(shots / "playground-1-signed-in.png"))

        # an agent, through the form
        await page.get_by_label("Name").fill("Long talker")
        await page.get_by_label("Greeting").fill("Hello.")
        await page.get_by_label("Language model").fill("fake-llm:tokens=30,gap=10")
        await page.get_by_label("Speech synthesis").fill("fake-tts:word_ms=300")
        await page.get_by_label("Endpoint ms").fill("400")
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-saved")).to_contain_text("Saved Long talker")
        await expect(page.locator("#call-agent option")).to_have_text(["Long talker"])
        await page.screenshot(path=str(shots / "playground-2-agent.png"))

        # the call: what Whisper heard of the question shows as the user's final line
        await page.get_by_role("button", name="Start call").click()
        user = page.locator("#transcript li[data-role=user][data-final=true]").first
        await expect(user).to_contain_text("office", ignore_case=True, timeout=TIMEOUT)
        await expect(page.get_by_test_id("agent-state")).to_have_text("speaking", timeout=TIMEOUT)

        # the agent is heard: the played counter moves while it speaks
        before = await played_ms(page)
        await page.wait_for_function(
            f"() => Number(document.getElementById('played-ms').value) > {before + 600}",
            timeout=TIMEOUT,
        )
        await expect(page.locator("#latency li[data-turn='1']")).to_be_visible()
        await page.screenshot(path=str(shots / "playground-3-agent-speaking.png"))

        # barge-in: `interrupted` empties the queue at once and the turn is marked
        await expect(page.get_by_test_id("interrupted-count")).to_have_text("1", timeout=TIMEOUT)
        assert await page.get_by_test_id("queued-ms").inner_text() == "0"
        stopped_at = await played_ms(page)
        await asyncio.sleep(0.6)  # the next reply is seconds away: the caller is still talking
        assert await played_ms(page) == stopped_at
        cut = page.locator("#transcript li[data-role=agent][data-turn='1']")
        await expect(cut).to_have_attribute("data-interrupted", "true")
        await expect(cut).to_have_attribute("data-final", "true", timeout=TIMEOUT)
        heard = await cut.locator(".heard").inner_text()
        unheard = await cut.locator(".unheard").inner_text()
        assert heard.startswith("word1 ") and unheard.strip().endswith("word30.")
        await expect(cut.locator(".badge")).to_have_text("interrupted")
        await page.screenshot(path=str(shots / "playground-4-barge-in.png"))

        # end it: the call is in Past calls, with its transcript and recording
        await page.get_by_role("button", name="End call").click()
        await expect(page.locator("#call-note")).to_have_text("Call ended: stop.", timeout=TIMEOUT)
        row = page.locator("#sessions tbody tr").first
        await expect(row).to_contain_text("Long talker", timeout=TIMEOUT)
        await expect(row).to_contain_text("ended")
        await row.get_by_role("button", name="Open").click()
        messages = page.locator("#session-messages")
        await expect(messages.locator("li[data-role=user]").first).to_contain_text(
            "office", ignore_case=True
        )
        await expect(messages.locator("li[data-interrupted=true]").first).to_be_visible()
        recording = page.locator("#recording audio")
        await expect(recording).to_have_attribute("src", _blob(), timeout=TIMEOUT)
        await page.locator("#session-detail").scroll_into_view_if_needed()
        await page.screenshot(path=str(shots / "playground-5-past-call.png"), full_page=True)
    await context.close()

    assert seen.console_errors == []
    assert seen.outside == []


def _blob() -> object:
    import re

    return re.compile(r"^blob:http://127\.0\.0\.1:\d+/")


@pytest.mark.parametrize("size", [(390, 844)])
async def test_the_playground_fits_a_phone_screen(
    offline_page: OfflinePage, tmp_path: Path, size: tuple[int, int]
) -> None:
    page = offline_page.page
    await page.set_viewport_size({"width": size[0], "height": size[1]})
    settings = Settings(data_dir=tmp_path, api_keys=(KEY,), admission=False, stt="fake-stt")
    async with serving(settings) as base:
        await page.goto(f"{base}/playground")
        await page.screenshot(path=str(screenshots(tmp_path) / "playground-phone-sign-in.png"))
        await sign_in(page, base)
        await page.get_by_label("Name").fill("Front desk")
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-saved")).to_contain_text("Saved Front desk")
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        await page.screenshot(
            path=str(screenshots(tmp_path) / "playground-phone.png"), full_page=True
        )
    assert overflow <= 0
    assert offline_page.console_errors == []
    assert offline_page.outside == []


async def test_the_page_is_public_but_locked_to_this_host(
    offline_page: OfflinePage, tmp_path: Path
) -> None:
    """No key is needed for the page itself (it holds no data); its policy lets nothing
    off this host load, and a bad key is refused plainly, with nothing stored."""
    page = offline_page.page
    async with serving(Settings(data_dir=tmp_path, api_keys=(KEY,), admission=False)) as base:
        answer = await page.goto(f"{base}/playground")
        assert answer is not None and answer.ok
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self' ws: wss:" in policy
        missing = await page.request.get(f"{base}/playground/..%2Fapp.py")
        assert missing.status == 404
        await page.get_by_label("API key").fill("pk_wrong")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#sign-in-error")).to_contain_text("unauthorized")
        assert await page.evaluate("() => sessionStorage.length + localStorage.length") == 0
    # the refused sign-in's 401 is the one console line: the browser logs a failed fetch
    assert [e for e in offline_page.console_errors if "401" not in e] == []
    assert offline_page.outside == []


async def test_a_client_side_tool_is_answered_by_hand(
    browser_with_mic: MicBrowser, tmp_path: Path
) -> None:
    """A typed turn names the agent's client-side tool (the `echo` model then calls it): the
    call shows the request with its arguments, the form sends the result, the call completes."""
    browser = await browser_with_mic(quiet_wav(tmp_path))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    seen = await watched(await context.new_page())
    page = seen.page
    tool = {
        "name": "opening_hours",
        "description": "When the office is open",
        "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
    }
    settings = Settings(
        data_dir=tmp_path / "data", api_keys=(KEY,), admission=False, stt="fake-stt"
    )
    async with serving(settings) as base:
        await sign_in(page, base)
        await page.get_by_label("Name").fill("Desk")
        await page.get_by_label("Speech synthesis").fill("fake-tts:word_ms=50")
        await page.get_by_label("Tools").fill("[not json")
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-error")).to_contain_text("not valid JSON")
        await page.get_by_label("Tools").fill(json.dumps([tool]))
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-saved")).to_contain_text("Saved Desk")

        await page.get_by_role("button", name="Start call").click()
        await expect(page.get_by_test_id("agent-state")).to_have_text("listening", timeout=TIMEOUT)
        await page.get_by_label("Type to the agent").fill("what are the opening hours")
        await page.get_by_role("button", name="Send").click()
        call = page.locator("#tool-calls li.tool").first
        await expect(call.get_by_test_id("tool-status")).to_have_text("requested", timeout=TIMEOUT)
        await page.get_by_label("Answer opening_hours").fill('{"open": "9:00"}')
        await call.get_by_role("button", name="Send result").click()
        await expect(call.get_by_test_id("tool-status")).to_have_text("completed", timeout=TIMEOUT)
        await page.screenshot(path=str(screenshots(tmp_path) / "playground-tool-call.png"))
        await page.get_by_role("button", name="End call").click()
        await expect(page.locator("#call-note")).to_have_text("Call ended: stop.", timeout=TIMEOUT)
    await context.close()
    assert seen.console_errors == []
    assert seen.outside == []


async def test_the_embedded_stack_answers_through_the_page(
    browser_with_mic: MicBrowser, tmp_path: Path
) -> None:
    """`parley serve` as it comes (Whisper hears, `echo` answers, Piper speaks): an agent made
    with the form's defaults answers the spoken question aloud."""
    browser = await browser_with_mic(microphone_wav(tmp_path))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    seen = await watched(await context.new_page())
    page = seen.page
    async with serving(Settings(data_dir=tmp_path / "data", api_keys=(KEY,))) as base:
        await sign_in(page, base)
        await page.get_by_label("Name").fill("Parrot")
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-saved")).to_contain_text("Saved Parrot")
        await page.get_by_role("button", name="Start call").click()
        agent = page.locator("#transcript li[data-role=agent][data-final=true]").first
        await expect(agent).to_contain_text("office", ignore_case=True, timeout=TIMEOUT)
        await page.wait_for_function(
            "() => Number(document.getElementById('played-ms').value) > 1000", timeout=TIMEOUT
        )
        await page.get_by_role("button", name="End call").click()
        await expect(page.locator("#call-note")).to_have_text("Call ended: stop.", timeout=TIMEOUT)
    await context.close()
    assert seen.console_errors == []
    assert seen.outside == []


async def test_an_agent_given_knowledge_in_the_form_cites_it_in_the_call(
    browser_with_mic: MicBrowser, tmp_path: Path
) -> None:
    """A collection chosen in the agent form is searched in the call: the citation shows
    with the document's title and passage, and the agent answers from it."""
    browser = await browser_with_mic(quiet_wav(tmp_path))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    seen = await watched(await context.new_page())
    page = seen.page
    settings = Settings(
        data_dir=tmp_path / "data", api_keys=(KEY,), admission=False, stt="fake-stt"
    )
    async with serving(settings) as base:
        collection = await _collection(base)
        await sign_in(page, base)
        await page.get_by_label("Name").fill("Clinic desk")
        await page.get_by_label("Speech synthesis").fill("fake-tts:word_ms=50")
        await page.locator("#agent-knowledge").select_option(collection)
        await page.get_by_role("button", name="Create agent").click()
        await expect(page.locator("#agent-saved")).to_contain_text("Saved Clinic desk")

        await page.get_by_role("button", name="Start call").click()
        await expect(page.get_by_test_id("agent-state")).to_have_text("listening", timeout=TIMEOUT)
        await page.get_by_label("Type to the agent").fill("When do you open on Saturdays?")
        await page.get_by_role("button", name="Send").click()
        cited = page.locator("#citations li").first
        await expect(cited).to_contain_text("hours.txt", timeout=TIMEOUT)
        await expect(cited).to_contain_text("On Saturdays the clinic opens at nine")
        answer = page.locator("#transcript li[data-role=agent][data-final=true]").last
        await expect(answer).to_contain_text("opens at nine", timeout=TIMEOUT)
        await page.screenshot(path=str(screenshots(tmp_path) / "playground-citations.png"))
        await page.get_by_role("button", name="End call").click()
        await expect(page.locator("#call-note")).to_have_text("Call ended: stop.", timeout=TIMEOUT)
    await context.close()
    assert seen.console_errors == []
    assert seen.outside == []


async def _collection(base: str) -> str:
    """A ready knowledge collection of the clinic's opening hours (made over REST)."""
    import httpx

    from tests.support.knowledge_corpus import document

    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=20
    ) as http:
        name, data = document("txt")
        file = (await http.post("/v1/files", files={"file": (name, data)})).json()
        body = {"name": "Clinic", "file_ids": [file["id"]]}
        created = (await http.post("/v1/knowledge", json=body)).json()
        for _ in range(400):  # read in the background: wait until it is ready
            if (await http.get(f"/v1/knowledge/{created['id']}")).json()["status"] == "ready":
                break
            await asyncio.sleep(0.05)
        return str(created["id"])
