/* Include and exclude patterns: which paths a backup leaves out, and a
 * restore or a listing takes. The matcher is public (cairn/pattern.h). */
#ifndef CAIRN_FS_EXCLUDE_H
#define CAIRN_FS_EXCLUDE_H

#include "cairn/pattern.h"

#endif
