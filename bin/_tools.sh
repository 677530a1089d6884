# Sourced by bin/test after bin/_venv.sh: test tools that do not come from PyPI.
# valgrind records a real program in tests/unit/trace/test_trace_record.py (vswap trace
# record). On a fresh machine, as root with apt, install it quietly (once: afterwards this
# is one `command -v`); otherwise say how, and that test fails naming the same command.
if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "vswap: installing valgrind with apt-get for the trace-recording test" >&2
        aptlog="$venv/apt-valgrind.log"
        if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind ||
               { apt-get update -qq &&
                 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }; } \
                >"$aptlog" 2>&1; then
            cat "$aptlog" >&2
            echo "vswap: could not install valgrind (output above, in $aptlog)" >&2
        fi
    else
        echo "vswap: valgrind is missing: the trace-recording test will fail;" \
             "install it (Debian/Ubuntu: sudo apt-get install valgrind)" >&2
    fi
fi
