/* socklab.h — the helper library: the parts of socket programming that are
 * dull and easy to get wrong. Every function returns -1 (or NULL) with errno
 * set; where errno cannot say it, a caller-owned char err[SL_ERR_LEN] holds
 * the message. The library never prints and never exits.
 */
#ifndef SOCKLAB_H
#define SOCKLAB_H

#include "addr.h"
#include "net.h"
#include "io.h"
#include "frame.h"
#include "event.h"

#endif
