from viewrank.text import sentences


def test_sentences_split_at_sentence_ends_but_not_at_abbreviations():
    text = "Vitamin D (e.g. cholecalciferol) helps. Smith et al. showed 3 effects! (A) holds? yes. 12 mice died."
    assert sentences(text) == ["Vitamin D (e.g. cholecalciferol) helps.", "Smith et al. showed 3 effects!",
                               "(A) holds? yes.", "12 mice died."]
    assert sentences("  ") == [] and sentences("no end") == ["no end"]
