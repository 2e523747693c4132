#!/bin/sh
# As the official redis image does: a redis-server started without a config file and without its own
# --protected-mode setting gets `--protected-mode no` (containers reach it over the network, and the
# network, not the bind address, is what keeps strangers out).
set -e
if [ "$1" = redis-server ]; then
  case " $* " in
    *" --protected-mode "* | *.conf*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"
