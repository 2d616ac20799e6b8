//! The 256 words of verification phrases: short, common, concrete nouns that are hard to
//! confuse when read aloud. Each word carries 8 bits; a phrase of four carries 32.

/// Exactly 256 distinct words; index = one byte of the phrase digest.
pub const WORDS: [&str; 256] = [
    "acid", "acorn", "actor", "agent", "album", "alley", "amber", "anchor", "angle", "ankle",
    "apple", "apron", "arena", "armor", "arrow", "aspen", "atlas", "attic", "autumn", "bacon",
    "badge", "bagel", "baker", "bamboo", "banjo", "barn", "basil", "basin", "beach", "beacon",
    "bean", "beard", "beaver", "bell", "bench", "berry", "bike", "birch", "bison", "blade",
    "blanket", "blossom", "board", "boat", "bonnet", "boot", "bottle", "boulder", "bowl", "brass",
    "bread", "brick", "bridge", "brook", "broom", "bubble", "bucket", "buffalo", "bugle", "cabin",
    "cactus", "camel", "candle", "canoe", "canyon", "captain", "carpet", "carrot", "castle",
    "cedar", "cellar", "chalk", "cherry", "chess", "chimney", "circus", "citrus", "cliff", "clock",
    "cloud", "clover", "cobra", "coconut", "comet", "compass", "copper", "coral", "cotton",
    "cougar", "crane", "crater", "crayon", "cricket", "crown", "crystal", "cube", "cupboard",
    "curtain", "daisy", "dancer", "delta", "desert", "diamond", "dinner", "dolphin", "donkey",
    "dragon", "drum", "eagle", "easel", "echo", "eclipse", "elbow", "elephant", "ember", "engine",
    "falcon", "feather", "fern", "ferry", "fiddle", "finch", "flag", "flute", "forest", "fossil",
    "fountain", "fox", "garden", "garlic", "gecko", "geyser", "ginger", "giraffe", "glacier",
    "globe", "goblet", "goose", "granite", "grape", "gravel", "guitar", "hammer", "harbor", "harp",
    "hazel", "helmet", "heron", "hickory", "honey", "horizon", "hornet", "igloo", "iris", "island",
    "ivory", "jacket", "jaguar", "jasmine", "jelly", "jewel", "jigsaw", "juniper", "kayak",
    "kettle", "kiwi", "koala", "ladder", "lagoon", "lantern", "laser", "lemon", "leopard", "lily",
    "lime", "lizard", "lobster", "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon",
    "meteor", "mirror", "mitten", "monkey", "moose", "mosaic", "muffin", "mustard", "napkin",
    "nectar", "needle", "nest", "noodle", "nutmeg", "oasis", "ocean", "olive", "onion", "orange",
    "orbit", "orchid", "otter", "oyster", "paddle", "palace", "panda", "panther", "paper",
    "parrot", "peach", "pebble", "pelican", "pencil", "pepper", "piano", "pickle", "pigeon",
    "pillow", "pine", "pirate", "planet", "plum", "pocket", "pony", "poppy", "potato", "pumpkin",
    "puzzle", "quartz", "quill", "rabbit", "raccoon", "radar", "radish", "rainbow", "raven",
    "ribbon", "river", "robot", "rocket", "saddle", "salmon", "sandal", "satin", "scarf", "seal",
    "shadow", "shark", "shell", "silver", "sketch", "sled",
];
