#!/usr/bin/env bash
# Host 2's link goes down while a 2 hosts x 2 ranks job trains: the node-loss drill with
# NODE_FAULT=link (see test_multinode_node_loss.sh). The job must end within --comm-timeout + 15 s.
NODE_FAULT=link exec "$(dirname "${BASH_SOURCE[0]}")/test_multinode_node_loss.sh" "$@"
