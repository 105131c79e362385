// RULER's scoring (synth/scoring.h) and the instruction checks (synth/instructions.h) on
// hand-made answers: full, partial and no match, case, cleaning; each instruction kind followed
// and broken.
#include <gtest/gtest.h>

#include <set>

#include "synth/instructions.h"
#include "synth/scoring.h"
#include "util/error.h"

using duo::synth::Instruction;
using duo::synth::string_match_all;
using duo::synth::string_match_part;

TEST(StringMatchAll, FractionOfReferencesFound) {
  const std::vector<std::string> refs = {"1234567", "7654321", "abundant-cake", "4088310a-2d43"};
  EXPECT_DOUBLE_EQ(string_match_all("The numbers are 1234567, 7654321 for abundant-cake and 4088310a-2d43.", refs), 1.0);
  EXPECT_DOUBLE_EQ(string_match_all("The number is 1234567 and 7654321.", refs), 0.5);
  EXPECT_DOUBLE_EQ(string_match_all("Only 7654321.", refs), 0.25);
  EXPECT_DOUBLE_EQ(string_match_all("I do not know.", refs), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all("", refs), 0.0);
  // Case-insensitive both ways, and a substring suffices (RULER's `r.lower() in pred.lower()`).
  EXPECT_DOUBLE_EQ(string_match_all("ABUNDANT-CAKE", {"abundant-cake"}), 1.0);
  EXPECT_DOUBLE_EQ(string_match_all("usqqo mjykp", {"USQQO", "MJYKP", "CXFTD"}), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(string_match_all("12345678", {"1234567"}), 1.0);
  EXPECT_THROW(string_match_all("x", {}), duo::Error);
}

TEST(StringMatchPart, AnyReferenceFound) {
  EXPECT_DOUBLE_EQ(string_match_part("Paris, of course", {"paris", "Paris, France"}), 1.0);
  EXPECT_DOUBLE_EQ(string_match_part("LONDON", {"Paris", "london"}), 1.0);
  EXPECT_DOUBLE_EQ(string_match_part("Rome", {"Paris", "London"}), 0.0);
  EXPECT_THROW(string_match_part("x", {}), duo::Error);
}

TEST(CleanPrediction, StripsAndTurnsControlCharactersIntoNewlines) {
  EXPECT_EQ(duo::synth::clean_prediction("  \n answer\tone\x01two \n"), "answer\none\ntwo");
  EXPECT_EQ(duo::synth::clean_prediction("\x02\x03"), "");
  EXPECT_EQ(duo::synth::clean_prediction("plain"), "plain");
}

TEST(ScoreSample, DispatchesOnTheMetric) {
  duo::synth::EvalSample s;
  s.task = "ruler:niah_multivalue";
  s.metric = "string_match_all";
  s.answers = {"1111111", "2222222"};
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, " 1111111 and 2222222"), 1.0);
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, "2222222"), 0.5);
  s.metric = "string_match_part";
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, "2222222"), 1.0);
  s.metric = "instructions";
  s.instructions = {{"no_commas", "", "Do not use any commas in your answer."},
                    {"number", "417", "Include the number 417 in your answer."}};
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, "It is 417 years old"), 1.0);
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, "It is old, very old"), 0.0);
  EXPECT_DOUBLE_EQ(duo::synth::score_sample(s, "It is old"), 0.5);
  s.metric = "bleu";
  EXPECT_THROW(duo::synth::score_sample(s, "x"), duo::Error);
  EXPECT_DOUBLE_EQ(duo::synth::task_score({1.0, 0.5, 0.0, 0.5}), 50.0);
  EXPECT_DOUBLE_EQ(duo::synth::task_score({}), 0.0);
}

namespace {
bool ok(const std::string& kind, const std::string& argument, const std::string& answer) {
  return duo::synth::follows(Instruction{kind, argument, ""}, answer);
}
}  // namespace

TEST(Instructions, Language) {
  EXPECT_TRUE(ok("language", "French", "Le texte parle de la création du monde et des premiers hommes. Il est très ancien."));
  EXPECT_FALSE(ok("language", "French", "The text is about the creation of the world and the first people."));
  EXPECT_TRUE(ok("language", "Spanish", "El texto trata de la creación del mundo y de los primeros hombres, con muchos nombres."));
  EXPECT_FALSE(ok("language", "Spanish", "Le texte parle de la création du monde et des premiers hommes. Il est ancien."));
  EXPECT_TRUE(ok("language", "German", "Der Text handelt von der Erschaffung der Welt und ist sehr alt, auch die Namen."));
  EXPECT_TRUE(ok("language", "German", "DER TEXT HANDELT VON DER ERSCHAFFUNG DER WELT UND IST ALT."));  // capitals too
  EXPECT_FALSE(ok("language", "German", "Der Text."));  // too few function words to tell
  EXPECT_THROW(ok("language", "Klingon", "x"), duo::Error);
}

TEST(Instructions, Words) {
  EXPECT_TRUE(ok("end_word", "harbor", "It ends at the Harbor."));
  EXPECT_TRUE(ok("end_word", "harbor", "* one\n* two harbor\n"));
  EXPECT_FALSE(ok("end_word", "harbor", "The harbor is where it ends, almost."));
  EXPECT_FALSE(ok("end_word", "harbor", ""));
  EXPECT_TRUE(ok("start_word", "lantern", "  \"Lantern\" is the first word."));
  EXPECT_TRUE(ok("start_word", "lantern", "* lantern light\n* more"));
  EXPECT_FALSE(ok("start_word", "lantern", "A lantern comes second."));
  EXPECT_TRUE(ok("keyword_twice", "walnut", "A walnut, and another WALNUT."));
  EXPECT_FALSE(ok("keyword_twice", "walnut", "One walnut and walnuts."));  // whole words only
}

TEST(Instructions, NumberCapitalsCommasBullets) {
  EXPECT_TRUE(ok("number", "417", "It lasted 417 years."));
  EXPECT_TRUE(ok("number", "417", "417"));
  EXPECT_FALSE(ok("number", "417", "It lasted 4170 years, or 1417."));
  EXPECT_FALSE(ok("number", "417", "four hundred seventeen"));
  EXPECT_TRUE(ok("capitals", "", "THE TEXT IS ABOUT GENESIS: 417 YEARS!"));
  EXPECT_FALSE(ok("capitals", "", "THE TEXT IS ABOUT Genesis."));
  EXPECT_FALSE(ok("capitals", "", "417 ..."));  // no letters at all
  EXPECT_TRUE(ok("no_commas", "", "No commas here at all."));
  EXPECT_FALSE(ok("no_commas", "", "One, two."));
  EXPECT_TRUE(ok("bullets", "3", "Intro\n* one\n* two\n  * three\n"));
  EXPECT_FALSE(ok("bullets", "3", "* one\n* two"));
  EXPECT_FALSE(ok("bullets", "2", "* one\n* two\n* three"));
  EXPECT_FALSE(ok("bullets", "2", "- one\n- two"));
  EXPECT_THROW(ok("poem", "", "x"), duo::Error);
}

TEST(Instructions, DrawnKindsAreDistinctAndTheirTextsCheckable) {
  std::set<std::string> seen_kinds;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    duo::synth::Rng rng(seed, 0);
    const std::vector<Instruction> drawn = duo::synth::draw_instructions(rng, 4);
    ASSERT_EQ(drawn.size(), 4u);
    std::set<std::string> kinds, words;
    for (const Instruction& in : drawn) {
      kinds.insert(in.kind);
      seen_kinds.insert(in.kind);
      EXPECT_FALSE(in.text.empty());
      if (!in.argument.empty() && in.kind != "bullets") EXPECT_NE(in.text.find(in.argument), std::string::npos) << in.text;
      if (in.kind == "end_word" || in.kind == "start_word" || in.kind == "keyword_twice") words.insert(in.argument);
    }
    EXPECT_EQ(kinds.size(), 4u);
    // An answer written to follow them all does, so the set is never contradictory.
    std::string answer;
    for (const Instruction& in : drawn)
      if (in.kind == "start_word") answer = in.argument + "\n";
    answer += "* ";
    for (const Instruction& in : drawn) {
      if (in.kind == "language")
        answer += in.argument == "French" ? "le texte est ancien et il parle des hommes "
                  : in.argument == "Spanish" ? "el texto es antiguo y habla de los hombres con sus nombres "
                                             : "der text ist alt und die namen sind nicht neu ";
      if (in.kind == "number") answer += in.argument + " ";
      if (in.kind == "keyword_twice") answer += in.argument + " and " + in.argument + " ";
    }
    int64_t bullets = 1;
    for (const Instruction& in : drawn)
      if (in.kind == "bullets") bullets = std::stoll(in.argument);
    for (int64_t b = 1; b < bullets; ++b) answer += "\n* more";
    for (const Instruction& in : drawn)
      if (in.kind == "end_word") answer += " " + in.argument;
    for (const Instruction& in : drawn)
      if (in.kind == "capitals")
        for (char& c : answer) c = char(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_DOUBLE_EQ(duo::synth::instruction_score(drawn, answer), 1.0) << answer;
  }
  EXPECT_EQ(seen_kinds.size(), duo::synth::instruction_kinds().size());
  duo::synth::Rng rng(1, 0);
  EXPECT_THROW(duo::synth::draw_instructions(rng, 9), duo::Error);
  EXPECT_THROW(duo::synth::instruction_score({}, "x"), duo::Error);
}
