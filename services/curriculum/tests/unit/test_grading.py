"""Grading of typed and multiple-choice answers, driven by mistakes real learners make."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parla_curriculum.domain.grading import (
    FeedbackKind,
    GradeResult,
    grade_choice,
    grade_text,
    normalize,
    strip_accents,
)

Expected = tuple[bool, FeedbackKind, str]

LEARNER_ANSWERS = [
    # English -> Spanish: only case, spacing or punctuation differs.
    pytest.param("hola", "Hola", (), (True, "exact", "Hola"), id="lowercase"),
    pytest.param("HOLA", "Hola", (), (True, "exact", "Hola"), id="caps-lock"),
    pytest.param("  Buenos    días ", "Buenos días", (), (True, "exact", "Buenos días"), id="extra-spaces"),
    pytest.param("Cómo estás", "¿Cómo estás?", (), (True, "exact", "¿Cómo estás?"), id="missing-question-marks"),
    pytest.param("hola ana", "¡Hola, Ana!", (), (True, "exact", "¡Hola, Ana!"), id="missing-exclamation-and-comma"),
    pytest.param("Hola,Ana", "¡Hola, Ana!", (), (True, "exact", "¡Hola, Ana!"), id="no-space-after-comma"),
    pytest.param("Está bien...", "Está bien.", (), (True, "exact", "Está bien."), id="ellipsis"),
    pytest.param("«Hola»", "Hola", (), (True, "exact", "Hola"), id="guillemets"),
    pytest.param("esta\N{COMBINING ACUTE ACCENT}", "está", (), (True, "exact", "está"), id="decomposed-accent"),
    # English -> Spanish: accents missing or wrong.
    pytest.param("esta", "está", (), (True, "accent", "está"), id="missing-accent"),
    pytest.param("senor", "señor", (), (True, "accent", "señor"), id="n-for-enye"),
    pytest.param("adios", "¡Adiós!", (), (True, "accent", "¡Adiós!"), id="adios"),
    pytest.param("Como estas", "¿Cómo estás?", (), (True, "accent", "¿Cómo estás?"), id="no-accents-no-marks"),
    pytest.param("Buenos dias", "Buenos días", (), (True, "accent", "Buenos días"), id="dias"),
    pytest.param("el nino", "El niño", (), (True, "accent", "El niño"), id="nino"),
    pytest.param("pinguino", "pingüino", (), (True, "accent", "pingüino"), id="missing-dieresis"),
    pytest.param("ésta", "está", (), (True, "accent", "está"), id="accent-on-wrong-vowel"),
    pytest.param("tu eres mi amigo", "Tú eres mi amigo", (), (True, "accent", "Tú eres mi amigo"), id="tu"),
    pytest.param("Si", "Sí", (), (True, "accent", "Sí"), id="short-word-accent"),
    # English -> Spanish: slips of the finger.
    pytest.param("grasias", "Gracias", (), (True, "typo", "Gracias"), id="grasias"),
    pytest.param("hloa", "Hola", (), (True, "typo", "Hola"), id="transposition"),
    pytest.param("Ola", "Hola", (), (True, "typo", "Hola"), id="silent-h"),
    pytest.param("Me lamo Ana", "Me llamo Ana", (), (True, "typo", "Me llamo Ana"), id="single-l"),
    pytest.param("Muy bein", "Muy bien", (), (True, "typo", "Muy bien"), id="bein"),
    pytest.param("Buenas nochez", "Buenas noches", (), (True, "typo", "Buenas noches"), id="z-for-s"),
    pytest.param("buenosdias", "Buenos días", (), (True, "typo", "Buenos días"), id="missing-space"),
    pytest.param("Por fa vor", "Por favor", (), (True, "typo", "Por favor"), id="extra-space"),
    pytest.param("grasias senor", "Gracias, señor.", (), (True, "typo", "Gracias, señor."), id="typo-and-accent"),
    pytest.param(
        "Qiero una taza de cafe con lece",
        "Quiero una taza de café con leche.",
        (),
        (True, "typo", "Quiero una taza de café con leche."),
        id="long-answer-two-typos",
    ),
    # English -> Spanish: real mistakes.
    pytest.param(
        "Qiero una tasa de cafe con lece",
        "Quiero una taza de café con leche.",
        (),
        (False, "wrong", "Quiero una taza de café con leche."),
        id="long-answer-three-typos",
    ),
    pytest.param(
        "Quiero una taza de café con lesh",
        "Quiero una taza de café con leche.",
        (),
        (False, "wrong", "Quiero una taza de café con leche."),
        id="two-typos-in-one-word",
    ),
    pytest.param("Grasiaz", "Gracias", (), (False, "wrong", "Gracias"), id="two-typos-short-answer"),
    pytest.param("el casa", "la casa", (), (False, "wrong", "la casa"), id="el-for-la"),
    pytest.param("Voy el parque", "Voy al parque", (), (False, "wrong", "Voy al parque"), id="el-for-al"),
    pytest.param("Quiero un manzana", "Quiero una manzana", (), (False, "wrong", "Quiero una manzana"), id="un-una"),
    pytest.param("Yo soy cansado", "Yo estoy cansado", (), (False, "wrong", "Yo estoy cansado"), id="soy-for-estoy"),
    pytest.param("Estoy de México", "Soy de México", (), (False, "wrong", "Soy de México"), id="estoy-for-soy"),
    pytest.param("Yo soy", "Yo soy Ana", (), (False, "wrong", "Yo soy Ana"), id="missing-word"),
    pytest.param("Yo soy Ana María", "Yo soy Ana", (), (False, "wrong", "Yo soy Ana"), id="extra-word"),
    pytest.param(
        "Voy la playa mañana",
        "Voy a la playa mañana",
        (),
        (False, "wrong", "Voy a la playa mañana"),
        id="missing-short-word-in-long-answer",
    ),
    pytest.param("Buenas dias", "Buenos días", (), (False, "wrong", "Buenos días"), id="wrong-gender"),
    pytest.param("Buenos dia", "Buenos días", (), (False, "wrong", "Buenos días"), id="wrong-number"),
    pytest.param("Yo habla español", "Yo hablo español", (), (False, "wrong", "Yo hablo español"), id="wrong-person"),
    pytest.param("Ellos habla inglés", "Ellos hablan inglés", (), (False, "wrong", "Ellos hablan inglés"), id="plural"),
    pytest.param("Hello", "Hola", (), (False, "wrong", "Hola"), id="answered-in-english"),
    pytest.param("Ya", "Yo", (), (False, "wrong", "Yo"), id="short-word-typo"),
    # Spanish -> English.
    pytest.param(
        "i'm fine",
        "I\N{RIGHT SINGLE QUOTATION MARK}m fine.",
        (),
        (True, "exact", "I\N{RIGHT SINGLE QUOTATION MARK}m fine."),
        id="curly-apostrophe-in-answer-key",
    ),
    pytest.param("Im fine", "I'm fine.", (), (True, "exact", "I'm fine."), id="missing-apostrophe"),
    pytest.param("thank you", "Thank you!", (), (True, "exact", "Thank you!"), id="thank-you"),
    pytest.param("Thnak you", "Thank you", (), (True, "typo", "Thank you"), id="thnak"),
    pytest.param("Good mornig", "Good morning", (), (True, "typo", "Good morning"), id="mornig"),
    pytest.param("I like coffe", "I like coffee", (), (True, "typo", "I like coffee"), id="missed-double-letter"),
    pytest.param("I am tried", "I am tired", (), (True, "typo", "I am tired"), id="transposition-into-a-word"),
    pytest.param(
        "I woud like a glas of water please",
        "I would like a glass of water, please.",
        (),
        (True, "typo", "I would like a glass of water, please."),
        id="long-english-two-typos",
    ),
    pytest.param("I have two dog", "I have two dogs", (), (False, "wrong", "I have two dogs"), id="missing-plural"),
    pytest.param(
        "The women drinks water",
        "The woman drinks water",
        (),
        (False, "wrong", "The woman drinks water"),
        id="woman-women",
    ),
    pytest.param("She eat apples", "She eats apples", (), (False, "wrong", "She eats apples"), id="third-person-s"),
    pytest.param("I am", "I am tired", (), (False, "wrong", "I am tired"), id="english-missing-word"),
    # Alternatives.
    pytest.param(
        "mi nombre es ana",
        "Me llamo Ana",
        ("Mi nombre es Ana",),
        (True, "exact", "Me llamo Ana"),
        id="alternative-exact",
    ),
    pytest.param("Soy Ana", "Yo soy Ana", ("Soy Ana",), (True, "exact", "Yo soy Ana"), id="dropped-pronoun"),
    pytest.param("que tal", "¿Cómo estás?", ("¿Qué tal?",), (True, "accent", "¿Qué tal?"), id="alternative-accent"),
    pytest.param("Hasta lugo", "Adiós", ("Hasta luego",), (True, "typo", "Hasta luego"), id="alternative-typo"),
    pytest.param("Im tird", "I am tired", ("I'm tired",), (True, "typo", "I'm tired"), id="contraction-typo"),
    pytest.param("I are tired", "I am tired", ("I'm tired",), (False, "wrong", "I am tired"), id="alternative-wrong"),
    # Nothing to grade.
    pytest.param("", "Hola", (), (False, "wrong", "Hola"), id="empty"),
    pytest.param("   ", "Hola", (), (False, "wrong", "Hola"), id="whitespace-only"),
    pytest.param("¿?", "Hola", (), (False, "wrong", "Hola"), id="punctuation-only"),
    pytest.param("...", "...", (), (False, "wrong", "..."), id="punctuation-only-answer-key"),
    pytest.param("\N{ZERO WIDTH SPACE}", "Hola", (), (False, "wrong", "Hola"), id="invisible-only"),
]


@pytest.mark.parametrize(("answer", "correct_answer", "alternatives", "expected"), LEARNER_ANSWERS)
def test_grade_text_learner_answers(
    answer: str, correct_answer: str, alternatives: tuple[str, ...], expected: Expected
) -> None:
    result = grade_text(answer, correct_answer, alternatives)

    assert (result.correct, result.feedback, result.correct_answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            "está",
            GradeResult(correct=True, feedback="exact", correct_answer="está", message=None),
            id="exact-has-no-message",
        ),
        pytest.param(
            "esta",
            GradeResult(
                correct=True,
                feedback="accent",
                correct_answer="está",
                message='Pay attention to the accents: "está".',
            ),
            id="accent",
        ),
        pytest.param(
            "etsá",
            GradeResult(correct=True, feedback="typo", correct_answer="está", message='You have a typo: "está".'),
            id="typo",
        ),
        pytest.param(
            "es",
            GradeResult(correct=False, feedback="wrong", correct_answer="está", message='Correct solution: "está".'),
            id="wrong",
        ),
    ],
)
def test_grade_text_messages(answer: str, expected: GradeResult) -> None:
    assert grade_text(answer, "está") == expected


def test_message_does_not_repeat_the_answers_full_stop() -> None:
    result = grade_text("Como estas", "¿Cómo estás?")

    assert result.message == 'Pay attention to the accents: "¿Cómo estás?"'


@pytest.mark.parametrize(
    ("chosen_option_id", "correct_option_ids", "expected"),
    [
        pytest.param("b", {"b"}, (True, "exact", "el perro"), id="correct"),
        pytest.param("a", {"b"}, (False, "wrong", "el perro"), id="wrong"),
        pytest.param("c", ["b", "c"], (True, "exact", "el perro"), id="one-of-several-correct"),
        pytest.param("B", {"b"}, (False, "wrong", "el perro"), id="ids-are-case-sensitive"),
        pytest.param("", {"b"}, (False, "wrong", "el perro"), id="nothing-chosen"),
    ],
)
def test_grade_choice(chosen_option_id: str, correct_option_ids: set[str] | list[str], expected: Expected) -> None:
    result = grade_choice(chosen_option_id, correct_option_ids, "el perro")

    assert (result.correct, result.feedback, result.correct_answer) == expected
    assert (result.message is None) == result.correct


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("¡Hola, Ana!", "hola ana", id="spanish-marks"),
        pytest.param("  ¿Cómo   ESTÁS? ", "cómo estás", id="keeps-accents"),
        pytest.param("I\N{RIGHT SINGLE QUOTATION MARK}m «fine»…", "im fine", id="apostrophe-and-quotes"),
        pytest.param("twenty-one", "twenty one", id="hyphen"),
        pytest.param("\N{FULLWIDTH LATIN CAPITAL LETTER H}OLA", "hola", id="full-width-letter"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_strip_accents() -> None:
    assert strip_accents("árbol señor pingüino ÉL") == "arbol senor pinguino EL"


SPANISH_WORDS = st.text(alphabet="abcdefghijklmnñopqrstuvwxyzáéíóúü", min_size=1, max_size=12)
GRADEABLE_TEXT = st.text().filter(lambda text: normalize(text) != "")


@st.composite
def answer_key_and_restyled_answer(draw: st.DrawFn) -> tuple[str, str]:
    """An answer key and the same words with different case, spacing and punctuation."""
    words = draw(st.lists(SPANISH_WORDS, min_size=1, max_size=6))
    separators = st.sampled_from([" ", "  ", ", ", " - ", "\t", "... "])
    restyled_words = [word.upper() if draw(st.booleans()) else word for word in words]
    restyled = "".join(word + draw(separators) for word in restyled_words)
    opening, closing = draw(st.sampled_from([("", ""), ("¿", "?"), ("¡", "!"), ("«", "»."), (" ", "  ")]))
    return " ".join(words), opening + restyled + closing


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(GRADEABLE_TEXT, st.lists(st.text(), max_size=3))
def test_the_answer_key_itself_is_exact(correct_answer: str, alternatives: list[str]) -> None:
    result = grade_text(correct_answer, correct_answer, alternatives)

    assert result == GradeResult(correct=True, feedback="exact", correct_answer=correct_answer, message=None)


@given(answer_key_and_restyled_answer())
def test_answers_equal_after_normalisation_are_exact(key_and_answer: tuple[str, str]) -> None:
    correct_answer, answer = key_and_answer

    assert grade_text(answer, correct_answer).feedback == "exact"


@given(st.text(), GRADEABLE_TEXT, st.lists(st.text(), max_size=3))
def test_verdict_is_consistent(answer: str, correct_answer: str, alternatives: list[str]) -> None:
    result = grade_text(answer, correct_answer, alternatives)

    assert result.correct == (result.feedback != "wrong")
    assert (result.message is None) == (result.feedback == "exact")
    if result.feedback in {"accent", "typo"}:
        assert result.correct_answer in {correct_answer, *alternatives}
    else:
        assert result.correct_answer == correct_answer
