"""Bone: Block Affine Transformation as Parameter Efficient Fine-tuning Methods for Large Language
Models (Kang, 2024), arXiv:2409.15371."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Bone: Block Affine Transformation as Parameter Efficient Fine-tuning Methods for Large Language Models",
    year=2024,
    arxiv="2409.15371",
)


@hookimpl
def register_layers(register):
    register(
        "bone",
        "paperzoo_bone.layer:BoneLinear",
        "Bone adapter around a frozen Linear: one trainable block shared by every r-column block of W "
        "(variant 'bat': weight-guided block affine update W_blk B + B); merge/unmerge into W.",
        paper=PAPER,
        tags=("peft", "adapter", "llm"),
        example={"r": 4},
        example_input=[2, 3, 16],
        example_base={"type": "Linear", "args": [16, 32]},
    )
    register(
        "bone_bat",
        "paperzoo_bone.layer:BatLinear",
        "Bone's weight-guided variant (Bat) around a frozen Linear: every r x r block of W gets "
        "W_ab B_a + B_a, one trainable B_a per row block; merge/unmerge into W.",
        paper=PAPER,
        tags=("peft", "adapter", "llm"),
        example={"r": 4},
        example_input=[2, 3, 16],
        example_base={"type": "Linear", "args": [16, 32]},
    )
