"""The lab extranet: Huawei VRP and H3C Comware switches (our asyncssh simulator) and Cisco IOS
switches (fake-switches, with its launcher's defects fixed) on 127.0.0.1, one SSH port per switch."""
