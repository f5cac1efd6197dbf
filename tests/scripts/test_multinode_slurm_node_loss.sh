#!/usr/bin/env bash
# A node of a two-node Slurm job dies and the job comes back: the two-node Slurm drill with
# SLURM_DRILL=node_loss (see test_multinode_slurm.sh).
SLURM_DRILL=node_loss exec "$(dirname "${BASH_SOURCE[0]}")/test_multinode_slurm.sh" "$@"
