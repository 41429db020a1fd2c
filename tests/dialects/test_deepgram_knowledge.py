"""A Deepgram Voice Agent session that names a stored agent answers from that agent's
knowledge: the search shows as a server-side `FunctionCallRequest` (`client_side: false`)
and its result, the answer uses the document, and the stored message carries the citation
(Deepgram's protocol has no message for one)."""

from __future__ import annotations

from tests.dialects.conftest import Stack
from tests.dialects.test_deepgram_raw import LINEAR16, dial
from tests.support.knowledge_corpus import document

ANSWER = "On Saturdays the clinic opens at nine"


async def test_a_stored_agents_knowledge_answers_a_deepgram_caller(stack: Stack) -> None:
    file = await stack.rest.upload_file(*document("txt"))
    clinic = await stack.rest.create_knowledge("Clinic", file_ids=[file["id"]])
    await stack.rest.ready(clinic["id"])
    agent = await stack.rest.create_agent(
        name="front desk", voice_id="default", system_prompt="Answer from the notes.",
        llm="echo", tts="fake-tts:delay=10,seconds=0.3", knowledge_ids=[clinic["id"]],
    )  # fmt: skip

    async with dial(stack) as client:
        await client.send(type="Settings", audio=LINEAR16, agent=agent["id"])
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectUserMessage", content="When do you open on Saturdays?")
        await client.wait(
            lambda: any(
                m["role"] == "assistant" and ANSWER in m["content"]
                for m in client.of("ConversationText")
            )
        )
    [request] = client.of("FunctionCallRequest")
    [call] = request["functions"]
    assert call["name"] == "query_knowledge" and call["client_side"] is False
    [response] = client.of("FunctionCallResponse")
    assert ANSWER in response["content"]

    [session] = (await stack.rest.list_sessions(agent_id=agent["id"]))["data"]
    stored = (await stack.rest.messages(session["session_id"]))["data"]
    [answer] = [m for m in stored if m["role"] == "agent" and ANSWER in m["text"]]
    assert answer["citations"][0]["title"] == "hours.txt"
