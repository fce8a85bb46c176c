/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_AGENT_AGENT_H
#define CP_AGENT_AGENT_H

/* confpool-agent: a node's attestation and join agent (docs/nodes.md). */

#include "confpool/error.h"

/* Run the agent of the node in node_dir (node.json there) until SIGTERM;
 * its progress goes to node_dir/status.json.  Returns 0 on a clean stop,
 * negative cp_err when the node failed (the reason is in status.json). */
CP_WUR int cp_agent_run(const char *node_dir);

#endif
