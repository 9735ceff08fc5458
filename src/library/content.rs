//! The built-in library: the hip program of a clinic's handout, retold for people doing it at
//! home. Ids are fixed for good (clinics' routines and assignments point at them); change the
//! text freely and the installer updates the rows in place at the next start.

use crate::exercises::dto::{BodyRegion as R, Category, Dosage, Equipment as E, ItemSide};
use uuid::Uuid;

pub struct BuiltinExercise {
    pub id: Uuid,
    pub name: &'static str,
    pub summary: &'static str,
    pub instructions: &'static [&'static str],
    pub category: Category,
    pub body_regions: &'static [R],
    pub equipment: &'static [E],
    pub difficulty: i16,
    pub default_dosage: Dosage,
    pub cautions: &'static [&'static str],
    /// Must name an exercise listed before this one.
    pub progression_of: Option<Uuid>,
}

pub struct BuiltinItem {
    pub exercise: Uuid,
    pub sets: Option<i32>,
    pub reps: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub rest_seconds: Option<i32>,
    pub side: ItemSide,
    pub notes: Option<&'static str>,
}

pub struct BuiltinRoutine {
    pub id: Uuid,
    pub name: &'static str,
    pub description: &'static str,
    pub items: &'static [BuiltinItem],
}

pub const LEGS_UP_THE_WALL: Uuid = Uuid::from_u128(0x512415644f2b49478fb25a7b5265b013);
pub const WIDE_LEGS_UP_THE_WALL: Uuid = Uuid::from_u128(0x679e015b87c2400d8c08e88e129bb1e7);
pub const SHOELACE_POSE: Uuid = Uuid::from_u128(0x4e0d10ef048c482eb873a6467f16f5ba);
pub const FRONT_LEG_LIFT: Uuid = Uuid::from_u128(0xd70ccbf45aa741fb99ef9ba1e4f61fcb);
pub const SIDE_LEG_LIFT: Uuid = Uuid::from_u128(0x88e2ad5dbf764953957376ac6eb160d6);
pub const BACK_LEG_LIFT: Uuid = Uuid::from_u128(0xa3e0e57d724848beb47b409275099ff4);
pub const SINGLE_LEG_BALANCE: Uuid = Uuid::from_u128(0x2d921b743e7c439eb811f90d03924771);
pub const CLAM: Uuid = Uuid::from_u128(0xa8103a4b53c843bb801c55bf6f31d574);
pub const CLAM_WITH_BAND: Uuid = Uuid::from_u128(0x9387f10fee7d460ab76f094462c6c66d);

pub const HIP_MOBILITY: Uuid = Uuid::from_u128(0x9a800dc0a8c14ce496049b2f0e94873f);
pub const HIP_STRENGTHENING: Uuid = Uuid::from_u128(0x99b36642dbb84d58913e7097842fd3b4);

const SHARP_PAIN: &str = "Stop if you feel sharp, pinching or shooting pain; a mild, even stretch is what you want.";

const fn per_side(sets: i32, reps: Option<i32>, hold_seconds: Option<i32>) -> Dosage {
    Dosage {
        sets: Some(sets),
        reps,
        hold_seconds,
        duration_seconds: None,
        rest_seconds: None,
        side: ItemSide::Each,
    }
}

const fn hold(seconds: i32) -> Dosage {
    Dosage {
        sets: Some(1),
        reps: None,
        hold_seconds: Some(seconds),
        duration_seconds: None,
        rest_seconds: None,
        side: ItemSide::Both,
    }
}

pub const EXERCISES: &[BuiltinExercise] = &[
    BuiltinExercise {
        id: LEGS_UP_THE_WALL,
        name: "Legs up the wall",
        summary: "A very gentle resting stretch for the backs of the legs and the hips, lying with \
                  the legs raised against a wall. Comfortable enough to stay in for several minutes.",
        instructions: &[
            "Sit sideways on the floor with one hip touching the wall.",
            "Lie back as you swing both legs up onto the wall, and shuffle your bottom as close to \
             the wall as is comfortable.",
            "If you like, slide a rolled or folded towel under your hips or lower back.",
            "Let your legs rest against the wall, as straight and upright as they go without \
             strain. Rest your arms by your sides.",
            "Breathe slowly and stay there, letting the legs grow heavy.",
            "To come out, bend your knees, roll onto your side and rest a moment before sitting up.",
        ],
        category: Category::Stretch,
        body_regions: &[R::Hip, R::Hamstrings, R::LowerBack],
        equipment: &[E::Wall, E::Towel],
        difficulty: 1,
        default_dosage: hold(300),
        cautions: &[
            SHARP_PAIN,
            "If your lower back complains, put a folded towel under your hips, or move a little \
             further from the wall.",
            "If your feet or legs tingle or go numb, bend your knees and come down.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: WIDE_LEGS_UP_THE_WALL,
        name: "Wide legs up the wall",
        summary: "From legs up the wall, the legs slide apart into a wide V to stretch the inner \
                  thighs. A long, gentle hold.",
        instructions: &[
            "Set up as for legs up the wall: lying on your back, bottom close to the wall, legs \
             resting up the wall.",
            "Let your legs slide apart along the wall until you feel a mild stretch along the \
             inner thighs.",
            "Stay at a comfortable width and breathe; with practice the legs will open a little \
             further on their own.",
            "To finish, bring your legs back together with your hands under your thighs, then \
             bend your knees and roll to one side.",
        ],
        category: Category::Stretch,
        body_regions: &[R::Hip, R::Adductors],
        equipment: &[E::Wall],
        difficulty: 1,
        default_dosage: hold(120),
        cautions: &[
            SHARP_PAIN,
            "Do not force the legs wider; let gravity do the work.",
            "Use your hands to close the legs at the end rather than squeezing them together.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: SHOELACE_POSE,
        name: "Shoelace pose",
        summary: "A figure-four stretch for the piriformis and the deep muscles of the hip, lying \
                  with your feet on a wall; a gentler alternative to pigeon pose.",
        instructions: &[
            "Lie on your back facing the wall and move your hips away from it until your knees are \
             bent at about a right angle with both feet flat on the wall.",
            "Cross one ankle over the opposite knee, so your legs make the shape of a figure four.",
            "For more stretch, let the foot on the wall slide down a little so the knees come \
             closer to you, or press the crossed knee gently away with your hand.",
            "You should feel the stretch deep in the hip and buttock of the crossed leg. Breathe \
             and hold.",
            "Uncross slowly and repeat with the other leg.",
        ],
        category: Category::Stretch,
        body_regions: &[R::Hip, R::Piriformis, R::Glutes],
        equipment: &[E::Wall],
        difficulty: 2,
        default_dosage: per_side(1, None, Some(60)),
        cautions: &[
            SHARP_PAIN,
            "Ease off if you feel it in the knee rather than the hip; keep the crossed foot flexed.",
            "Most people have one tighter side: give it the longer hold, but never push it harder.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: FRONT_LEG_LIFT,
        name: "Front leg lift",
        summary: "A straight-leg raise lying on your back, for the muscles at the front of the hip.",
        instructions: &[
            "Lie on your back. Bend one knee with the foot flat on the floor and keep the other \
             leg straight.",
            "Tighten the thigh of the straight leg and pull its toes gently towards you.",
            "Lift the straight leg slowly until it is level with the bent knee.",
            "Pause, then lower it slowly without letting it drop.",
            "Do all the repetitions, then change legs.",
        ],
        category: Category::Strength,
        body_regions: &[R::Hip, R::HipFlexors],
        equipment: &[E::Mat],
        difficulty: 1,
        default_dosage: per_side(2, Some(10), None),
        cautions: &[
            SHARP_PAIN,
            "Keep your lower back resting on the floor; the bent knee helps with that.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: SIDE_LEG_LIFT,
        name: "Side leg lift",
        summary: "Lifting the top leg while lying on your side, for the muscles on the outside of \
                  the hip.",
        instructions: &[
            "Lie on one side with your head resting on your lower arm. Bend the bottom knee for \
             balance and keep the top leg straight, in line with your body.",
            "Keep the top leg's toes pointing forwards, not up to the ceiling.",
            "Lift the top leg slowly, only as high as you can without rolling your hips backwards.",
            "Pause, then lower it slowly.",
            "Do all the repetitions, then turn over and work the other side.",
        ],
        category: Category::Strength,
        body_regions: &[R::Hip, R::Abductors],
        equipment: &[E::Mat],
        difficulty: 1,
        default_dosage: per_side(2, Some(10), None),
        cautions: &[
            SHARP_PAIN,
            "A small lift done well beats a big one done by rocking the hips.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: BACK_LEG_LIFT,
        name: "Back leg lift",
        summary: "Lifting one straight leg while lying face down, for the buttock muscles.",
        instructions: &[
            "Lie face down with your forehead resting on your folded hands.",
            "Squeeze the buttock on one side and lift that straight leg a few centimetres off the \
             floor.",
            "Keep both hips touching the floor; the movement is small.",
            "Pause, then lower it slowly.",
            "Do all the repetitions, then change legs.",
        ],
        category: Category::Strength,
        body_regions: &[R::Hip, R::Glutes],
        equipment: &[E::Mat],
        difficulty: 1,
        default_dosage: per_side(2, Some(10), None),
        cautions: &[
            SHARP_PAIN,
            "Lift only as high as you can without arching your lower back; if your back complains, \
             place a pillow under your hips.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: SINGLE_LEG_BALANCE,
        name: "Single-leg balance",
        summary: "Standing on one leg, for balance and for the small muscles that steady the hip, \
                  ankle and trunk.",
        instructions: &[
            "Stand tall next to a sturdy chair back or a kitchen counter, one hand resting on it.",
            "Shift your weight onto one foot and lift the other a little off the floor.",
            "Keep your hips level and your standing knee soft rather than locked.",
            "Hold, then lower the foot and change sides.",
            "As it gets easier, hold on with one finger, then let go; later try it with your eyes \
             closed, still next to the support.",
        ],
        category: Category::Balance,
        body_regions: &[R::Hip, R::AnkleFoot, R::Core],
        equipment: &[E::Chair],
        difficulty: 2,
        default_dosage: per_side(3, None, Some(30)),
        cautions: &[
            "Always keep something sturdy within reach.",
            "Stop if you feel dizzy or unsteady, and sit down.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: CLAM,
        name: "The clam",
        summary: "Lying on your side with the knees bent, opening the top knee like a clam shell: \
                  strengthens the buttock and outer hip muscles.",
        instructions: &[
            "Lie on your side with your hips and knees bent and your feet together, in line with \
             your back. Rest your head on your lower arm.",
            "Keep your feet touching and your pelvis still, with your top hip stacked over the \
             bottom one.",
            "Using your hip, slowly lift the top knee away from the bottom knee, as far as you can \
             without rolling backwards.",
            "Pause at the top, then lower the knee slowly.",
            "Do all the repetitions, then turn over and work the other side.",
        ],
        category: Category::Strength,
        body_regions: &[R::Hip, R::Glutes, R::Abductors],
        equipment: &[E::Mat],
        difficulty: 1,
        default_dosage: per_side(2, Some(12), None),
        cautions: &[
            SHARP_PAIN,
            "Move slowly and deliberately; it is the control, not the height, that counts.",
        ],
        progression_of: None,
    },
    BuiltinExercise {
        id: CLAM_WITH_BAND,
        name: "Clam with resistance band",
        summary: "The clam with a loop of resistance band around the thighs: the next step once \
                  the plain clam feels easy.",
        instructions: &[
            "Put a loop of resistance band around both thighs, just above the knees.",
            "Lie on your side with your hips and knees bent and your feet together, head resting \
             on your lower arm.",
            "Keeping your feet touching and your pelvis still, lift the top knee against the band.",
            "Pause at the top, then let the knee come back slowly, controlling the band.",
            "Do all the repetitions, then turn over and work the other side.",
        ],
        category: Category::Strength,
        body_regions: &[R::Hip, R::Glutes, R::Abductors],
        equipment: &[E::Mat, E::ResistanceBand],
        difficulty: 2,
        default_dosage: per_side(2, Some(12), None),
        cautions: &[
            SHARP_PAIN,
            "Start with a light band; move to a stronger one only when the last repetitions stay \
             smooth.",
        ],
        progression_of: Some(CLAM),
    },
];

const fn item(exercise: Uuid, sets: i32, reps: Option<i32>, hold_seconds: Option<i32>, side: ItemSide) -> BuiltinItem {
    BuiltinItem {
        exercise,
        sets: Some(sets),
        reps,
        hold_seconds,
        rest_seconds: None,
        side,
        notes: None,
    }
}

pub const ROUTINES: &[BuiltinRoutine] = &[
    BuiltinRoutine {
        id: HIP_MOBILITY,
        name: "Hip mobility",
        description: "Gentle stretches at a wall for stiff hips, about ten minutes. Most people find \
                      one hip tighter than the other: give that side the longer hold.",
        items: &[
            item(LEGS_UP_THE_WALL, 1, None, Some(300), ItemSide::Both),
            item(WIDE_LEGS_UP_THE_WALL, 1, None, Some(120), ItemSide::Both),
            BuiltinItem {
                notes: Some("Hold the tighter side a little longer."),
                ..item(SHOELACE_POSE, 1, None, Some(60), ItemSide::Each)
            },
        ],
    },
    BuiltinRoutine {
        id: HIP_STRENGTHENING,
        name: "Hip strengthening",
        description: "Strength and balance for the muscles around the hip, about fifteen minutes. \
                      Slow, controlled movements; rest about 30 seconds between sets.",
        items: &[
            BuiltinItem {
                rest_seconds: Some(30),
                ..item(CLAM, 2, Some(12), None, ItemSide::Each)
            },
            BuiltinItem {
                rest_seconds: Some(30),
                ..item(FRONT_LEG_LIFT, 2, Some(10), None, ItemSide::Each)
            },
            BuiltinItem {
                rest_seconds: Some(30),
                ..item(SIDE_LEG_LIFT, 2, Some(10), None, ItemSide::Each)
            },
            BuiltinItem {
                rest_seconds: Some(30),
                ..item(BACK_LEG_LIFT, 2, Some(10), None, ItemSide::Each)
            },
            BuiltinItem {
                rest_seconds: Some(15),
                ..item(SINGLE_LEG_BALANCE, 3, None, Some(30), ItemSide::Each)
            },
        ],
    },
];
