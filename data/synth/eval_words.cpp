// The word lists of eval_words.h.
#include "synth/eval_words.h"

namespace duo::synth::words {

const std::vector<std::string>& adjectives() {
  static const std::vector<std::string> words = {
    "able", "absent", "active", "actual", "afraid", "agile", "alert", "alive", "amber", "ancient",
    "angry", "anxious", "arctic", "ardent", "ashen", "autumn", "awake", "aware", "azure", "bad",
    "bald", "bare", "basic", "bitter", "black", "bland", "blank", "blind", "blue", "blunt",
    "bold", "bony", "bored", "brave", "brief", "bright", "brisk", "broad", "broken", "bronze",
    "brown", "bumpy", "busy", "calm", "candid", "careful", "casual", "cheap", "cheerful",
    "chilly", "civil", "clean", "clear", "clever", "close", "cloudy", "clumsy", "coarse", "cold",
    "common", "cool", "copper", "cosmic", "costly", "cozy", "crafty", "crazy", "creamy", "crisp",
    "crooked", "crowded", "cruel", "curious", "curly", "cute", "damp", "dark", "dear", "deep",
    "dense", "direct", "dirty", "distant", "divine", "dizzy", "double", "dreamy", "dry", "dull",
    "dusty", "eager", "early", "earnest", "easy", "elder", "elegant", "empty", "endless", "equal",
    "exact", "exotic", "faint", "fair", "faithful", "false", "famous", "fancy", "fast", "fierce",
    "final", "fine", "firm", "flat", "fluffy", "foggy", "fond", "formal", "fragile", "frank",
    "free", "fresh", "friendly", "frozen", "full", "funny", "fuzzy", "gentle", "giant", "gifted",
    "glad", "gloomy", "golden", "good", "graceful", "grand", "grateful", "great", "green", "grey",
    "grumpy", "guilty", "happy", "hardy", "harsh", "hasty", "hazy", "healthy", "heavy", "hidden",
    "high", "hollow", "holy", "honest", "hopeful", "huge", "humble", "hungry", "icy", "idle",
    "ill", "jolly", "juicy", "keen", "kind", "large", "late", "lazy", "lean", "level", "light",
    "little", "lively", "lonely", "long", "loose", "loud", "lovely", "loyal", "lucky", "lunar",
    "magic", "major", "mellow", "merry", "mighty", "mild", "misty", "modern", "modest", "moist",
    "narrow", "nasty", "neat", "nervous", "new", "nice", "noble", "noisy", "normal", "odd",
    "oily", "old", "olive", "open", "orange", "ornate", "pale", "patient", "plain", "pleasant",
    "polite", "poor", "precious", "pretty", "proud", "purple", "quick", "quiet", "rapid", "rare",
    "raw", "ready", "real", "red", "rich", "rigid", "ripe", "rough", "round", "royal", "rusty",
    "sad", "safe", "salty", "sandy", "scarlet", "secret", "serious", "shaggy", "sharp", "shiny",
    "short", "shy", "silent", "silky", "silver", "simple", "sleepy", "slim", "slow", "small",
    "smart", "smooth", "snowy", "soft", "solar", "solid", "sour", "spare", "spicy", "spotted",
    "steady", "steep", "sticky", "stiff", "stormy", "strange", "strict", "strong", "sturdy",
    "subtle", "sudden", "sunny", "super", "sweet", "swift", "tall", "tame", "tender", "thick",
    "thin", "thirsty", "tidy", "tiny", "tough", "tricky", "true", "twin", "ugly", "upper",
    "urban", "vague", "valid", "vast", "velvet", "violet", "vivid", "warm", "weak", "weary",
    "wet", "white", "whole", "wicked", "wide", "wild", "windy", "wise", "witty", "wooden",
    "worthy", "yellow", "young", "zealous"};
  return words;
}

const std::vector<std::string>& nouns() {
  static const std::vector<std::string> words = {
    "acorn", "actor", "album", "anchor", "angle", "ankle", "apple", "apron", "arch", "arena",
    "arrow", "artist", "atlas", "attic", "author", "badge", "bagel", "bakery", "ball", "balloon",
    "bamboo", "banana", "band", "banjo", "bank", "barn", "barrel", "basket", "bath", "battery",
    "beach", "beacon", "bead", "beam", "bean", "bear", "beard", "bed", "bee", "beetle", "bell",
    "belt", "bench", "berry", "bicycle", "bird", "biscuit", "blanket", "blossom", "boat", "bone",
    "book", "boot", "bottle", "boulder", "bowl", "box", "bracelet", "branch", "bread", "brick",
    "bridge", "broom", "brush", "bubble", "bucket", "buffalo", "bugle", "bulb", "bundle",
    "butter", "button", "cabin", "cable", "cactus", "cake", "camel", "camera", "canal", "candle",
    "cannon", "canoe", "canvas", "canyon", "captain", "car", "card", "carpet", "carrot", "castle",
    "cat", "cave", "cedar", "cellar", "chain", "chair", "chalk", "cherry", "chess", "chest",
    "chicken", "chimney", "circle", "city", "cliff", "clock", "cloud", "clover", "coach", "coast",
    "coat", "cobra", "coconut", "coffee", "coin", "comet", "compass", "cookie", "copper", "coral",
    "cotton", "cougar", "cradle", "crane", "crayon", "creek", "cricket", "crown", "crystal",
    "cup", "curtain", "cushion", "daisy", "dancer", "desert", "desk", "diamond", "dinner",
    "dolphin", "donkey", "door", "dragon", "drawer", "dream", "drum", "duck", "eagle", "easel",
    "echo", "elbow", "elephant", "elm", "emerald", "engine", "falcon", "feather", "fence", "fern",
    "ferry", "field", "fig", "finger", "fire", "fish", "flag", "flame", "flask", "flower",
    "flute", "forest", "fork", "fossil", "fountain", "fox", "frog", "garden", "garlic", "gate",
    "gem", "giraffe", "glacier", "glass", "globe", "glove", "goat", "gold", "goose", "grape",
    "grass", "guitar", "hammer", "harbor", "harp", "hat", "hawk", "hazel", "heart", "hedge",
    "helmet", "hen", "hill", "honey", "horn", "horse", "hotel", "house", "ice", "igloo", "island",
    "ivory", "jacket", "jar", "jelly", "jewel", "jungle", "kettle", "key", "kite", "kitten",
    "knife", "knot", "ladder", "lake", "lamp", "lantern", "lava", "leaf", "lemon", "lens",
    "letter", "lily", "lion", "lizard", "lobster", "locket", "lotus", "magnet", "mango", "map",
    "maple", "marble", "market", "mask", "meadow", "melon", "mirror", "mitten", "monkey", "moon",
    "moose", "moss", "mountain", "mouse", "muffin", "mushroom", "needle", "nest", "net", "noodle",
    "notebook", "oak", "oar", "ocean", "olive", "onion", "orchard", "orchid", "otter", "owl",
    "oyster", "paddle", "page", "palace", "palm", "pancake", "panda", "paper", "parrot", "pasta",
    "peach", "peanut", "pear", "pearl", "pebble", "pencil", "penguin", "pepper", "piano",
    "pickle", "pillow", "pine", "pirate", "planet", "plate", "plum", "pocket", "pond", "poppy",
    "potato", "pumpkin", "puppet", "puzzle", "quilt", "rabbit", "radio", "rain", "raven",
    "ribbon", "ring", "river", "robin", "rocket", "rose", "ruby", "saddle", "sail", "salmon",
    "sand", "satchel", "saucer", "scarf", "school", "scroll", "seal", "shadow", "shark", "sheep",
    "shell", "ship", "shoe", "shovel", "silk", "singer", "skate", "sled", "snail", "snake",
    "sock", "sofa", "spoon", "spring", "squirrel", "stamp", "star", "statue", "stone", "storm",
    "stove", "straw", "stream", "street", "sugar", "suitcase", "sun", "swan", "sword", "table",
    "teapot", "tent", "thimble", "thunder", "tiger", "toast", "tomato", "tower", "toy", "tractor",
    "train", "trumpet", "tulip", "tunnel", "turtle", "umbrella", "valley", "vase", "violin",
    "volcano", "wagon", "wallet", "walnut", "wand", "water", "whale", "wheat", "wheel", "whistle",
    "willow", "window", "wolf", "wren", "yacht", "yarn", "zebra"};
  return words;
}

const std::vector<std::string>& verbs() {
  static const std::vector<std::string> words = {
    "accept", "achieve", "admire", "advise", "agree", "allow", "amuse", "answer", "appear",
    "argue", "arrange", "arrive", "ask", "attach", "attend", "avoid", "bake", "balance", "bathe",
    "beg", "behave", "believe", "belong", "blink", "boast", "boil", "borrow", "bounce", "bow",
    "breathe", "bring", "build", "burn", "calculate", "carry", "carve", "catch", "celebrate",
    "change", "chase", "cheer", "chew", "choose", "clap", "climb", "collect", "comb", "compare",
    "complain", "confess", "consider", "copy", "count", "crawl", "cross", "crush", "cry", "dance",
    "decide", "deliver", "describe", "design", "dig", "discover", "dive", "divide", "drag",
    "draw", "dream", "drift", "drive", "drop", "dust", "earn", "eat", "embrace", "encourage",
    "enjoy", "enter", "escape", "examine", "excite", "expand", "explain", "explore", "fasten",
    "fetch", "fill", "find", "fix", "float", "fly", "fold", "follow", "forgive", "freeze",
    "gather", "gaze", "giggle", "glow", "grab", "greet", "grin", "grow", "guard", "guess",
    "hammer", "handle", "hang", "happen", "harvest", "heal", "hear", "help", "hide", "hike",
    "hold", "hop", "hover", "hug", "hum", "hunt", "hurry", "identify", "imagine", "improve",
    "include", "inform", "inspect", "invent", "invite", "jog", "join", "juggle", "jump", "kick",
    "kneel", "knit", "knock", "laugh", "launch", "lead", "lean", "learn", "lift", "listen",
    "live", "look", "love", "march", "marry", "measure", "melt", "mend", "mix", "move", "nod",
    "notice", "obey", "observe", "offer", "open", "order", "paint", "pass", "pause", "perform",
    "pick", "plant", "play", "plead", "point", "polish", "pour", "practice", "praise", "pray",
    "prefer", "prepare", "press", "promise", "protect", "pull", "punch", "push", "question",
    "race", "rain", "raise", "reach", "read", "realize", "receive", "recite", "relax", "remember",
    "repair", "repeat", "reply", "rescue", "rest", "return", "ride", "ring", "rinse", "roar",
    "roast", "roll", "run", "rush", "sail", "scatter", "scold", "scream", "search", "shake",
    "share", "shave", "shine", "shiver", "shout", "sing", "sip", "sit", "skip", "sleep", "slide",
    "smell", "smile", "sneeze", "snore", "solve", "sort", "speak", "spill", "spin", "splash",
    "sprint", "squeeze", "stack", "stare", "start", "stay", "steer", "step", "stir", "stretch",
    "study", "succeed", "suggest", "supply", "surprise", "swim", "swing", "talk", "taste",
    "teach", "tease", "tickle", "travel", "trust", "try", "tumble", "twist", "type", "unlock",
    "unpack", "vanish", "visit", "wait", "walk", "wander", "want", "warn", "wash", "watch",
    "wave", "weigh", "whisper", "whistle", "win", "wink", "wish", "wonder", "work", "worry",
    "wrap", "write", "yawn", "yell"};
  return words;
}

}  // namespace duo::synth::words
