# Optional accelerators, detected at configure time; the library builds without any of them.
include(CheckSymbolExists)
list(APPEND CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
check_symbol_exists(recvmmsg "sys/socket.h" DGRAM_HAVE_RECVMMSG)
check_symbol_exists(sendmmsg "sys/socket.h" DGRAM_HAVE_SENDMMSG)
check_symbol_exists(epoll_create1 "sys/epoll.h" DGRAM_HAVE_EPOLL)
check_symbol_exists(eventfd "sys/eventfd.h" DGRAM_HAVE_EVENTFD)
check_symbol_exists(timerfd_create "sys/timerfd.h" DGRAM_HAVE_TIMERFD)
configure_file(${CMAKE_CURRENT_LIST_DIR}/config.h.in ${CMAKE_BINARY_DIR}/dg_config.h)
