"""4. Training: the loop, multi-task mixing, and the intermediate-phase variants.

``device`` (device, precision, seeds), ``loop`` (one stage: AdamW, schedule, checkpoints,
resume, model selection), ``mixing`` (multi-task sampling), ``mlm`` (continued masked-LM
training, ``--variant mlm``), ``variants`` (the variants' settings and data, ``--variant``).
"""
