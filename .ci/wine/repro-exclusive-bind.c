/* Wine 8.0: once a TCP socket is bound with SO_EXCLUSIVEADDRUSE, every other bind of
 * that port fails with WSAEACCES (10013), also for a socket without options, where
 * Windows answers WSAEADDRINUSE (10048) and keeps WSAEACCES for a second socket that
 * asks for SO_REUSEADDR; UDP under Wine answers 10048 like Windows.
 * https://learn.microsoft.com/en-us/windows/win32/winsock/using-so-reuseaddr-and-so-exclusiveaddruse
 * Windows Sockets error codes, WSAEACCES: "another application, service, or kernel mode
 * driver is bound to the same address with exclusive access".
 * Sockscope handles both answers (engine/bind.rs: bind_error checks the port tables).
 * Build: x86_64-w64-mingw32-gcc -o excl.exe repro-exclusive-bind.c -lws2_32
 * Run:   wine excl.exe */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
static SOCKET mk(int type, int excl, int reuse){ SOCKET s=socket(AF_INET,type,0); int on=1;
 if(excl) printf("  excl opt %d\n", setsockopt(s,SOL_SOCKET,SO_EXCLUSIVEADDRUSE,(char*)&on,4));
 if(reuse) setsockopt(s,SOL_SOCKET,SO_REUSEADDR,(char*)&on,4); return s;}
static int b(SOCKET s, const char*ip, int port){ struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_port=htons(port); a.sin_addr.s_addr=inet_addr(ip);
 if(bind(s,(struct sockaddr*)&a,sizeof a)) return WSAGetLastError(); return 0;}
int main(){ WSADATA w; WSAStartup(MAKEWORD(2,2),&w);
 for(int type=SOCK_STREAM; type<=SOCK_DGRAM; type++){
 SOCKET f=mk(type,1,0); int r=b(f,"0.0.0.0",0); struct sockaddr_in a; int l=sizeof a; getsockname(f,(struct sockaddr*)&a,&l); int port=ntohs(a.sin_port);
 if(type==SOCK_STREAM) listen(f,5);
 printf("type %d first excl bind %d port %d\n", type, r, port);
 printf(" plain 0.0.0.0: %d\n", b(mk(type,0,0),"0.0.0.0",port));
 printf(" plain 127.0.0.1: %d\n", b(mk(type,0,0),"127.0.0.1",port));
 printf(" excl 0.0.0.0: %d\n", b(mk(type,1,0),"0.0.0.0",port));
 printf(" excl 127.0.0.1: %d\n", b(mk(type,1,0),"127.0.0.1",port));
 printf(" reuse 127.0.0.1: %d\n", b(mk(type,0,1),"127.0.0.1",port));
 SOCKET g=mk(type,0,0); r=b(g,"127.0.0.1",0); l=sizeof a; getsockname(g,(struct sockaddr*)&a,&l); port=ntohs(a.sin_port); if(type==SOCK_STREAM) listen(g,5);
 printf(" first plain 127.0.0.1 port %d; then excl 127.0.0.1: %d; excl 0.0.0.0: %d; plain 127: %d\n", port, b(mk(type,1,0),"127.0.0.1",port), b(mk(type,1,0),"0.0.0.0",port), b(mk(type,0,0),"127.0.0.1",port));
 }
 return 0;}
