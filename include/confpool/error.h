/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_PUBLIC_ERROR_H
#define CONFPOOL_PUBLIC_ERROR_H

/*
 * The public face of confpool's one error enum.  The enum, the categories
 * and the thread-local last-error record are defined in the lowest layer
 * (src/basic/error.h), which every other layer builds on; this header
 * re-exports that definition unchanged so that users of libconfpool include
 * <confpool/error.h> like every other public header.
 */
#include "../../src/basic/error.h"

#endif
