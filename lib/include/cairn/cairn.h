/* libcairn: content-defined deduplicating backup. */
#ifndef CAIRN_H
#define CAIRN_H

#include "cairn/version.h"
#include "cairn/errors.h"
#include "cairn/buf.h"
#include "cairn/chunker.h"
#include "cairn/fingerprint.h"
#include "cairn/seal.h"
#include "cairn/keys.h"
#include "cairn/pack.h"
#include "cairn/bloom.h"
#include "cairn/indexfile.h"
#include "cairn/manifest.h"
#include "cairn/store.h"
#include "cairn/sys/index.h"
#include "cairn/index.h"
#include "cairn/wire.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"
#include "cairn/retention.h"
#include "cairn/select.h"
#include "cairn/forget.h"
#include "cairn/check.h"
#include "cairn/tree.h"
#include "cairn/progress.h"
#include "cairn/backup.h"
#include "cairn/restore.h"
#include "cairn/pattern.h"

#endif
