/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes and error printing shared by every command (cli/exit.h). */
#include <stdio.h>

#include "cli/exit.h"
#include "confpool/error.h"

int cp_cli_exit_code(int err) {
        switch (err) {
        case CP_OK:
                return CP_EXIT_OK;
        case CP_EINVAL:
                return CP_EXIT_USAGE;
        case CP_ESIG:
        case CP_EBINDING:
                return CP_EXIT_SIGNATURE;
        case CP_ECERT:
        case CP_EUNTRUSTED:
        case CP_EEXPIRED:
        case CP_ETCB:
        case CP_ECHIPID:
                return CP_EXIT_CERT;
        case CP_EREVOKED:
                return CP_EXIT_REVOKED;
        case CP_EPOLICY:
                return CP_EXIT_POLICY;
        case CP_ENETWORK:
        case CP_EAGAIN: /* not now: a dependency not ready, try again */
                return CP_EXIT_NETWORK;
        default:
                return CP_EXIT_FAILURE;
        }
}

void cp_cli_error(const char *context) {
        const cp_error *e = cp_error_last();
        if (context)
                fprintf(stderr, "confpool: error: %s: %s (%s)\n", context, e->message, cp_err_name(e->code));
        else
                fprintf(stderr, "confpool: error: %s (%s)\n", e->message, cp_err_name(e->code));
}
