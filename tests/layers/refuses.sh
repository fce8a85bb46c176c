#!/usr/bin/env bash
# The layering rules refuse what they must (src/LAYERS, scripts/check-layers.py):
#   1. the real tree passes;
#   2. a copy of it with one wrong-way include (a daemon including another
#      daemon's header, the library including a service header) fails, naming
#      the file and line;
#   3. a copy with an include circle between two files fails;
#   4. the compiler refuses the wrong-way include too: attestd's include root
#      (build/layers/attestd) has no kbsd/, but has service/.
# Usage: refuses.sh PYTHON SOURCE_DIR BUILD_DIR
set -euo pipefail
py=$1 srcdir=$2 builddir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$py" "$srcdir/scripts/check-layers.py" "$srcdir" >/dev/null || fail "the real tree does not pass"

copy() { rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r "$srcdir/src" "$srcdir/include" "$tmp/t/"; }
expect_refused() { # what, pattern
        local out
        if out=$("$py" "$srcdir/scripts/check-layers.py" "$tmp/t"); then fail "$1 passed"; fi
        grep -q -- "$2" <<<"$out" || fail "$1: no line matching '$2' in: $out"
        echo "ok: $1 refused: $(grep -- "$2" <<<"$out" | head -1)"
}

copy
printf '#include "kbsd/kbsd.h"\n' >>"$tmp/t/src/attestd/verify.c"
expect_refused "attestd including kbsd" 'src/attestd/verify.c:[0-9]*: attestd may not include "kbsd/kbsd.h"'

copy
printf '#include "service/httpd.h"\n' >>"$tmp/t/src/libconfpool/snp_report.c"
expect_refused "libconfpool including service" 'libconfpool may not include "service/httpd.h"'

copy
printf '#include "basic/cursor.h"\n' >>"$tmp/t/include/confpool/snp_report.h"
expect_refused "public header including internal" 'public header includes internal "basic/cursor.h"'

copy
printf '#include "basic/codec.h"\n' >>"$tmp/t/src/basic/cursor.h"
printf '#include "basic/cursor.h"\n' >>"$tmp/t/src/basic/codec.c"
expect_refused "include circle" 'include circle: .*src/basic/codec.*src/basic/cursor'

copy
mkdir -p "$tmp/t/src/newdaemon"
printf 'int x;\n' >"$tmp/t/src/newdaemon/x.c"
expect_refused "module missing from LAYERS" 'module "newdaemon" is not in src/LAYERS'

# The compiler sees only the layers below: attestd cannot even find kbsd's header.
cc=${CC:-cc}
printf '#include "kbsd/kbsd.h"\n' >"$tmp/wrong.c"
if "$cc" -fsyntax-only -I"$builddir/layers/attestd" -I"$srcdir/include" "$tmp/wrong.c" 2>"$tmp/err"; then
        fail "attestd's include root compiles an include of kbsd/kbsd.h"
fi
grep -q 'kbsd/kbsd.h' "$tmp/err" || fail "compiler error does not name kbsd/kbsd.h"
echo "ok: the compiler refuses kbsd/kbsd.h in attestd's include root"
printf '#include "service/httpd.h"\nint main(void) { return 0; }\n' >"$tmp/right.c"
"$cc" -fsyntax-only -D_GNU_SOURCE -I"$builddir/layers/attestd" -I"$srcdir/include" $(pkg-config --cflags jansson) \
        "$tmp/right.c" || fail "attestd's include root does not compile service/httpd.h"
echo "ok: attestd's include root compiles service/httpd.h"
