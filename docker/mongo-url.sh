#!/bin/sh
# Runs its arguments with MONGO_URL set to mongodb://MONGO_USER:MONGO_PASSWORD@MONGO_ADDRESS, the user name and
# password percent-encoded byte by byte: a password may hold any character (@ : / ? # % + and the rest) and still
# reach MongoDB unchanged, where pasting it into the URL would cut the URL short or be refused by the driver.
# POSIX sh and od only: it runs in the service's image (Debian) and in Rocket.Chat's (Alpine, busybox).
set -eu

# Letters, digits and - . _ ~ as they are (so that a user name stays readable), every other byte as %XX.
percent_encode() {
    for byte in $(printf '%s' "$1" | od -An -v -tx1); do
        case $byte in
            3[0-9] | 4[1-9a-f] | 5[0-9a] | 6[1-9a-f] | 7[0-9a] | 2d | 2e | 5f | 7e)
                printf "\\$(printf '%03o' "0x$byte")" ;;
            *) printf '%%%s' "$byte" ;;
        esac
    done
}

: "${MONGO_USER:?set MONGO_USER}" "${MONGO_PASSWORD:?set MONGO_PASSWORD}" "${MONGO_ADDRESS:?set MONGO_ADDRESS}"
MONGO_URL="mongodb://$(percent_encode "$MONGO_USER"):$(percent_encode "$MONGO_PASSWORD")@$MONGO_ADDRESS"
export MONGO_URL
unset MONGO_USER MONGO_PASSWORD MONGO_ADDRESS
exec "$@"
