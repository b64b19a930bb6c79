"""How results are produced: tasks, data, models, training, evaluation, grid."""
